# shellcheck shell=bash
# The helpers the benchmark's scripts share (sourced by ops/bench.sh and by the fragments of
# ops/bench.d; not a fragment itself, so ops/bench.sh does not run it): wrk's figures in
# microseconds, the markdown rows of the table, wrk's lua scripts and the warm-up of an
# action. What needs the guest key reads AUTH (base64 of it) when called.

# wrk prints "50%  812.00us" or "1.02ms"; normalise to microseconds
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print int(v)} else if (v ~ /ms$/) {sub(/ms$/,"",v); print int(v*1000)} else if (v ~ /s$/) {sub(/s$/,"",v); print int(v*1000000)} else print v}'; }
# pct OUT P: wrk's P percentile ("50%") in OUT, in µs; one a line when OUT holds several runs
pct() { echo "$1" | awk -v p="$2" '$1==p {print $2}' | to_us; }
# med OUT P / worst OUT P: the median and the largest of the P percentiles of the runs in OUT
med() { pct "$1" "$2" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
worst() { pct "$1" "$2" | sort -n | tail -1; }
# rps OUT / reqs OUT: wrk's requests per second (whole) and requests in all
rps() { echo "$1" | awk '/Requests\/sec/ {print int($2)}'; }
reqs() { echo "$1" | awk '/requests in/ {print $1}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# row FIGURE P50 P99 NOTE: one row of the table
row() { printf '| %s | %s | %s | %s |\n' "$@"; }

# wrk_lua [BODY]: a wrk script that sends the guest key with every request; with BODY, the
# requests are POSTs of that JSON
wrk_lua() {
  (($# == 0)) || cat <<LUAEOF
wrk.method = "POST"
wrk.body = '$1'
wrk.headers["Content-Type"] = "application/json"
LUAEOF
  printf 'wrk.headers["Authorization"] = "Basic %s"\n' "$AUTH"
}

# warm_action NAME ACTION N BODY: creates (or replaces) the action NAME from the JSON ACTION,
# then invokes it N times, blocking, with the JSON BODY; a failed request fails the caller
# under set -e
warm_action() {
  local h=(-H "Authorization: Basic $AUTH" -H 'Content-Type: application/json')
  curl -sf -X PUT "${h[@]}" "$API/actions/$1?overwrite=true" -d "$2" >/dev/null
  for _ in $(seq 1 "$3"); do
    curl -sf -X POST "${h[@]}" "$API/actions/$1?blocking=true&result=true" -d "$4" >/dev/null
  done
}
