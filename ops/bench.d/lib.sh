# shellcheck shell=bash
# The helpers the benchmark's scripts share (sourced by ops/bench.sh and by the fragments of
# ops/bench.d; not a fragment itself, so ops/bench.sh does not run it): wrk's figures in
# microseconds, the markdown rows of the table, wrk's lua scripts, the warm-up of an action,
# the CPU of a load by process (/proc) and its profile (perf, SQ_BENCH_PROFILE=1). What needs
# the guest key reads AUTH (base64 of it) when called; what writes files, STATE.

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

# ---- floors: measured by ops/bench.sh before the fragments run, and exported to them
#   FLOOR_NATS_US   raw NATS request/reply, p50 (one hop and back)
#   FLOOR_RT_US     raw actionloop round trip (bare node over pipes), p50
#   FLOOR_HTTP_US   lws HTTP round trip (GET /healthz, 1 keep-alive connection), p50
#   FLOOR_COLD_STEM_US / FLOOR_COLD_BARE_US   init + first run on a stem cell; bwrap + node
#                   started and run, no sandbox (bench_runtime)
#   FLOOR_NATS_RPS, FLOOR_JS_RPS, FLOOR_HTTP_RPS   the same with 32 in flight: NATS request/
#                   reply, JetStream publish + ack, GET /healthz (32 connections), per second
#   FLOOR_INVOKE_US, FLOOR_FIRST_US, FLOOR_INVOKE_RPS, FLOOR_ACCEPT_RPS, FLOOR_FIRE_RPS: the
#                   floors of whole requests made of those (ops/bench.sh says how)
# x_floor FIGURE FLOOR: a time's ratio to its floor ("2.35 × the floor"); x_floor_rate FIGURE
# FLOOR: a rate's ("the floor is 2.35 × this": floor / figure); "n/a" when either is unknown
x_floor() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b > 0) printf "%.2f × the floor", a / b; else print "n/a" }'
}
x_floor_rate() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "the floor is %.2f × this", b / a; else print "n/a" }'
}
# rate_sum "K1 R1" "K2 R2" ...: the rate of a request that needs K_i operations of a floor of
# rate R_i each, all on the same cores: 1 / sum(K_i / R_i) per second (0 when a rate is unknown)
rate_sum() {
  printf '%s\n' "$@" | awk '{ if ($2 <= 0) bad = 1; else t += $1 / $2 } END { if (bad || t <= 0) print 0; else printf "%d\n", 1 / t }'
}

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

# ---- CPU by process, from /proc (the whole machine)
# cpu_snap: "command cpu-ticks" for every process alive (utime + stime of all its threads);
# cpu_per_req A B N [SKIP]: the CPU each command took between two snaps, per request, in µs,
# the largest first ("node" is every sandboxed action process; "postgres" every backend),
# then "; total T"; the command SKIP (e.g. perf, when it samples the same load) is left out
# of both
cpu_snap() {
  local f
  for f in /proc/[0-9]*/stat; do
    awk '{ s = $0; sub(/^[^(]*\(/, "", s); n = s; sub(/\).*/, "", n); sub(/^.*\) /, "", s);
           split(s, a, " "); print FILENAME, n, a[12] + a[13] }' "$f" 2>/dev/null || true
  done
}
cpu_per_req() {
  local hz
  hz="$(getconf CLK_TCK)"
  awk -v n="$3" -v hz="$hz" -v skip="${4:-}" 'NR == FNR { a[$1] = $3; next }
    { d = $3 - (($1 in a) ? a[$1] : 0); if (d > 0 && $2 != skip) { c[$2] += d; t += d } }
    END { for (k in c) if (c[k] * 1e6 / hz / n >= 5) printf "%d %s\n", c[k] * 1e6 / hz / n, k;
          printf "%d TOTAL\n", t * 1e6 / hz / n }' "$1" "$2" | sort -rn |
    awk '$2 == "TOTAL" { tot = $1; next }
         { n = $2; sub(/^squall-/, "", n); sub(/^schedule$/, "scheduler", n); sub(/^activati$/, "activations", n)
           s = s (s ? ", " : "") n " " $1 } END { printf "%s; total %d", s, tot }'
}

# ---- profiles (SQ_BENCH_PROFILE=1, perf installed; else every profile_* does nothing)
# perf record -e cpu-clock -g -a: the whole machine, into $STATE/perf.<NAME>, one at a time.
#   profile_start NAME SECS    for SECS seconds from now
#   profile_start NAME         until profile_end (at most SQ_BENCH_PROFILE_MAX s, 600):
#                              returns once perf samples
#   profile_start NAME paused  the same, sampling only after profile_resume
#   profile_pause / profile_resume    (not with SECS) leave a stretch out of the profile
#   profile_end NAME           waits for (or stops) perf, then prints to stderr, headed by
#                              NAME: the share of samples by command (PROFILE_COMMS lines,
#                              8), then the top frames by self time, command, DSO, symbol
#                              (PROFILE_TOP lines, 25; at most PROFILE_PER_COMM a command
#                              when set; PROFILE_BUSY=1: the idle task's left out, in % of
#                              the other samples, for a load that leaves the cores mostly idle)
#   profile_cancel             stops perf, nothing printed, the samples dropped
# The heading goes through the caller's log() when it has one.
PERF_PID="" PERF_CTL="" PERF_ACK="" PERF_FILE=""
profile_on() {
  [[ ${SQ_BENCH_PROFILE:-} == 1 ]] || return 1
  command -v perf >/dev/null 2>&1 && return 0
  [[ -n ${PROFILE_NO_PERF:-} ]] || profile_log "SQ_BENCH_PROFILE=1 but no perf installed: no profiles"
  PROFILE_NO_PERF=1
  return 1
}
profile_log() {
  if declare -F log >/dev/null; then log "$@"; else printf 'bench/%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; fi
}
# profile_ctl enable|disable: a command to the perf started without SECS, acknowledged
profile_ctl() {
  [[ -n $PERF_CTL ]] || return 0
  local ack=""
  printf '%s\n' "$1" >&"$PERF_CTL"
  read -r -t 10 ack <&"$PERF_ACK" || true
  [[ $ack == ack ]] || profile_log "perf did not acknowledge '$1' within 10 s"
}
profile_resume() { profile_ctl enable; }
profile_pause() { profile_ctl disable; }
profile_start() {
  profile_on || return 0
  [[ -z $PERF_PID ]] || profile_cancel
  PERF_FILE="$STATE/perf.$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_')"
  if [[ ${2:-} =~ ^[0-9]+$ ]]; then
    perf record -e cpu-clock -g -a -o "$PERF_FILE" -- sleep "$2" >/dev/null 2>&1 &
    PERF_PID=$!
    return 0
  fi
  rm -f "$PERF_FILE.ctl" "$PERF_FILE.ack"
  mkfifo "$PERF_FILE.ctl" "$PERF_FILE.ack"
  perf record -e cpu-clock -g -a -D -1 --control "fifo:$PERF_FILE.ctl,$PERF_FILE.ack" -o "$PERF_FILE" \
    -- sleep "${SQ_BENCH_PROFILE_MAX:-600}" >/dev/null 2>&1 &
  PERF_PID=$!
  # read-write: opening a FIFO so never blocks, whether perf has opened it yet or not
  exec {PERF_CTL}<>"$PERF_FILE.ctl" {PERF_ACK}<>"$PERF_FILE.ack"
  [[ ${2:-} == paused ]] || profile_resume
}
# profile_stop: perf ended (SECS run out, or stopped now) and its data written
profile_stop() {
  [[ -n $PERF_PID ]] || return 0
  if [[ -n $PERF_CTL ]]; then
    kill -INT "$PERF_PID" 2>/dev/null || true
    exec {PERF_CTL}>&- {PERF_ACK}>&-
    PERF_CTL="" PERF_ACK=""
    rm -f "$PERF_FILE.ctl" "$PERF_FILE.ack"
  fi
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
}
profile_cancel() {
  profile_stop
  [[ -z $PERF_FILE ]] || rm -f "$PERF_FILE"
  PERF_FILE=""
}
profile_end() {
  profile_on || return 0
  profile_stop
  [[ -n $PERF_FILE && -s $PERF_FILE ]] || return 0
  local comms busy=()
  comms="$(perf report -i "$PERF_FILE" --stdio --no-children --sort comm -g none 2>/dev/null |
    grep -E '^ +[0-9.]+%' || true)"
  if [[ ${PROFILE_BUSY:-} == 1 ]]; then
    # a mostly idle load: its symbols without the idle task's, in % of the busy samples
    busy=(--percentage relative --comms "$(awk '$2 != "swapper" { print $2 }' <<<"$comms" | paste -sd, -)")
    profile_log "profile of $1 (cpu-clock, the whole machine): share by command, then its top symbols (swapper, the idle task, left out: % of the busy samples)"
  else
    profile_log "profile of $1 (cpu-clock, the whole machine): share by command, then its top symbols"
  fi
  [[ -z $comms ]] || head -"${PROFILE_COMMS:-8}" <<<"$comms" >&2
  perf report -i "$PERF_FILE" --stdio --no-children --sort comm,dso,sym -g none "${busy[@]}" 2>/dev/null |
    grep -E '^ +[0-9.]+%' | awk -v c="${PROFILE_PER_COMM:-0}" '{ n[$2]++; if (c == 0 || n[$2] <= c) print }' |
    head -"${PROFILE_TOP:-25}" >&2 || true
  PERF_FILE=""
}
# miss VALUE GOAL UNIT [min]: "misses by D UNIT" or "met", the goal a maximum (a minimum with
# min); the profiles' summary lines say so of their rows
miss() {
  awk -v v="$1" -v g="$2" -v u="$3" -v min="${4:-}" 'BEGIN { d = min ? g - v : v - g
    if (v !~ /^-?[0-9.]+$/ || g !~ /^-?[0-9.]+$/) print "n/a"; else if (d <= 0) print "met"; else printf "misses by %.4g %s\n", d, u }'
}
