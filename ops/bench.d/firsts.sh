#!/usr/bin/env bash
# Benchmark fragment (run by ops/bench.sh against its stack, with API, AUTH, BUILD, STATE,
# SECONDS_RUN and the floors exported): first invokes of new actions, HTTP end to end (issue
# 14), beside their floor of the same run (FLOOR_FIRST_US, lib.sh). Prints markdown rows
# | figure | p50 | p99 | note |.
#
#   - the first invoke of one new action on a quiet stack: create it (PUT), wait 2 s (the
#     stem cells refilled, nothing running), invoke it blocking; SQ_BENCH_FIRSTS (10) times
#   - the first invokes of 10 new actions created back to back: PUT, invoke, PUT, invoke ...
#     with no pause (the burst that empties the stem cells); 3 rounds 3 s apart
#
# Every invoke must answer 200 with the action's result: any other answer is counted and
# shown, never timed. Times are curl's time_total (connect to last byte), one connection
# each. With SQ_BENCH_PROFILE=1 the three bursts are sampled with perf (the pauses between
# them left out) and the profile goes to stderr (ops/bench.d/lib.sh).
set -uo pipefail

# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
H=(-H "Authorization: Basic $AUTH" -H 'Content-Type: application/json')
# pct_ms FILE P: the P-th percentile (0-100) of the numbers in FILE (seconds), in ms
pct_ms() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END { if (NR == 0) { print "n/a"; exit }
  i = int((NR - 1) * p / 100 + 0.5) + 1; printf "%.1f ms", v[i] * 1000 }'; }
pct_us() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END { if (NR == 0) { print "n/a"; exit }
  i = int((NR - 1) * p / 100 + 0.5) + 1; printf "%d", v[i] * 1000000 }'; }
RUN="bench-first-$$"
CODE='{"exec":{"kind":"nodejs:20","code":"function main(a){return {first: a.n}}"}}'
BAD=0
# first NAME N FILE: PUT the action, invoke it once (blocking, result), time kept in FILE
first() {
  local out code t
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${H[@]}" "$API/actions/$1" -d "$CODE")
  if [[ $code != 200 ]]; then BAD=$((BAD + 1)); return; fi
  out=$(curl -s -w '\n%{http_code} %{time_total}' -X POST "${H[@]}" \
    "$API/actions/$1?blocking=true&result=true" -d "{\"n\":$2}")
  read -r code t <<<"$(tail -n1 <<<"$out")"
  if [[ $code == 200 && $(head -n1 <<<"$out") == "{\"first\":$2}" ]]; then
    echo "$t" >>"$3"
  else
    BAD=$((BAD + 1))
    echo "firsts.sh: $1: $code $(head -c 200 <<<"$out")" >&2
  fi
}

QUIET="$STATE/firsts-quiet" BURST="$STATE/firsts-burst"
: >"$QUIET"
: >"$BURST"
for i in $(seq 1 "${SQ_BENCH_FIRSTS:-10}"); do
  sleep 2
  first "$RUN-q$i" "$i" "$QUIET"
done
PROF_BURST="first invoke of 10 new actions created back to back"
profile_start "$PROF_BURST" paused
for r in 1 2 3; do
  sleep 3
  profile_resume
  for i in $(seq 1 10); do first "$RUN-b$r-$i" "$i" "$BURST"; done
  profile_pause
done
if profile_on; then
  profile_end "$PROF_BURST (the 3 bursts, not the pauses between them)"
  B50="$(pct_ms "$BURST" 50)" B99="$(pct_ms "$BURST" 99)"
  profile_log "$PROF_BURST: p50 $B50 (goal ≤ 8 ms: $(miss "${B50% ms}" 8 ms)), p99 $B99 (goal ≤ 30 ms: $(miss "${B99% ms}" 30 ms)), $(wc -l <"$BURST") actions"
fi
row "first invoke of one new action on a quiet stack (PUT, 2 s, blocking invoke), HTTP end to end" \
  "$(pct_ms "$QUIET" 50)" "$(pct_ms "$QUIET" 99)" \
  "$(wc -l <"$QUIET") actions; target p50 ≤ 4 ms; $(x_floor "$(pct_us "$QUIET" 50)" "${FLOOR_FIRST_US:-0}") (${FLOOR_FIRST_US:-n/a} µs: the warm invoke's floor with a stem cell's init + first run instead of the runtime round trip; curl's new connection not counted)"
row "first invoke of 10 new actions created back to back (PUT, invoke, PUT, invoke ...), HTTP end to end" \
  "$(pct_ms "$BURST" 50)" "$(pct_ms "$BURST" 99)" \
  "$(wc -l <"$BURST") actions in 3 rounds; $(x_floor "$(pct_us "$BURST" 50)" "${FLOOR_FIRST_US:-0}"); target p50 ≤ 8 ms, p99 ≤ 30 ms$( ((BAD > 0)) && echo "; $BAD answers other than 200 with the result (not counted)")"
for a in $(seq 1 "${SQ_BENCH_FIRSTS:-10}"); do
  curl -s -o /dev/null -X DELETE "${H[@]}" "$API/actions/$RUN-q$a"
done
for r in 1 2 3; do for i in $(seq 1 10); do
  curl -s -o /dev/null -X DELETE "${H[@]}" "$API/actions/$RUN-b$r-$i"
done; done
