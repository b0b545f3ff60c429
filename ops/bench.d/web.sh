#!/usr/bin/env bash
# Benchmark fragment (run by ops/bench.sh against its stack, with API, AUTH, BUILD, STATE,
# SECONDS_RUN exported): a web action GET (/api/v1/web/guest/default/<a>.json) beside a
# blocking invoke of the same action in the same run, one connection each, alternating in
# short rounds so that both see the same machine. Prints markdown rows
# | figure | p50 | p99 | note |, and the difference of the medians (goal: within 100 µs).
set -uo pipefail

SECS="${SECONDS_RUN:-10}"
H=(-H "Authorization: Basic $AUTH" -H 'Content-Type: application/json')
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
HOST="${API%/api/v1/namespaces/_}"

code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${H[@]}" "$API/actions/bench-web?overwrite=true" \
  -d '{"exec":{"kind":"nodejs:20","code":"function main(a){return {ok:true, n:a.n||0}}"},"annotations":[{"key":"web-export","value":true}]}')
if [[ $code != 200 ]]; then
  row "web action GET" "n/a" "n/a" "could not create the action ($code)"
  exit 0
fi
for _ in $(seq 1 50); do
  curl -s -o /dev/null "$HOST/api/v1/web/guest/default/bench-web.json?n=1"
  curl -s -o /dev/null -X POST "${H[@]}" "$API/actions/bench-web?blocking=true&result=true" -d '{"n":1}'
done

LUA="$STATE/web-post.lua"
wrk_lua '{"n":1}' >"$LUA"
ROUND=$(( SECS / 4 > 1 ? SECS / 4 : 1 ))
WEB_ALL=""; INV_ALL=""
for _ in 1 2; do
  WEB_ALL+="$(wrk -t1 -c1 -d"${ROUND}s" --latency "$HOST/api/v1/web/guest/default/bench-web.json?n=1")"$'\n'
  INV_ALL+="$(wrk -t1 -c1 -d"${ROUND}s" --latency -s "$LUA" "$API/actions/bench-web?blocking=true&result=true")"$'\n'
done
# the median of the two rounds' medians (and the worse p99)
WEB_P50=$(med "$WEB_ALL" "50%"); WEB_P99=$(worst "$WEB_ALL" "99%")
INV_P50=$(med "$INV_ALL" "50%"); INV_P99=$(worst "$INV_ALL" "99%")
ERRS=$(echo "$WEB_ALL$INV_ALL" | awk '/Non-2xx|Socket errors/' || true)
NOTE="same action, 1 connection, alternating rounds of ${ROUND}s"
[[ -n $ERRS ]] && NOTE="**errors in this run, not valid:** $(echo "$ERRS" | tr '\n' ' ')"
row "web action GET .json, 1 connection (no key)" "${WEB_P50} µs" "${WEB_P99} µs" "$NOTE; $(x_floor "$WEB_P50" "${FLOOR_INVOKE_US:-0}") of a warm invoke (${FLOOR_INVOKE_US:-n/a} µs)"
row "blocking invoke of the same action, 1 connection" "${INV_P50} µs" "${INV_P99} µs" "same run"
row "web action GET minus blocking invoke (p50)" "$(( WEB_P50 - INV_P50 )) µs" "" "goal ≤ 100 µs"
