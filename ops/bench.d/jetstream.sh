#!/usr/bin/env bash
# JetStream's footprint under load (issue 13: JetStream holds what is in flight, not a second
# archive): the disk of the JetStream store, nats-server's resident memory and every
# stream's messages, bytes and files, before a load of non-blocking invokes
# (SQ_BENCH_JS_SECONDS, default 60; the issue's check is 600), right after it, once drained
# (SQ_WORK and SQ_ACTIVATIONS empty: the invoker ran everything and the activation store has
# every record; at most SQ_BENCH_JS_DRAIN s, default 300) and settled (SQ_BENCH_JS_SETTLE s
# later, default 130: past the streams' two-minute duplicate window, whose message ids
# nats-server keeps in memory, and past a sweep of the activation store). "Flat": drained
# and settled equal to before, but for nats-server's memory, which holds the duplicate
# window's ids and the heap Go has not returned. A load beyond the invokers fills SQ_WORK up to
# its byte cap (SQ_JS_WORK_MAX_MB), past which invokes are refused with 503: the series during
# the load shows disk and memory level off there. Prints markdown rows (ops/bench.sh's four
# columns).
set -euo pipefail
: "${API:?run through ops/bench.sh}" "${AUTH:?}" "${STATE:?}" "${ROOT:?}"
SECS="${SQ_BENCH_JS_SECONDS:-60}"
DRAIN="${SQ_BENCH_JS_DRAIN:-300}"
SETTLE="${SQ_BENCH_JS_SETTLE:-130}"
PID="$(cat "$STATE/pids/nats.pid")"
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"

disk_kb() { du -sk "$STATE/nats/js" | awk '{print $1}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
# streams: one line per stream, "name messages bytes disk-kB" (as ops: stream list is allowed)
streams() {
  local name m b
  NODE_PATH="$ROOT/test/e2e/node_modules" timeout 20 node - <<'JSEOF' 2>/dev/null | sort |
const { connect } = require('nats');
(async () => {
  const servers = process.env.SQ_NATS_URL.replace(/\/\/[^@/]*@/, '//');
  const user = process.env.SQ_NATS_USER;
  const nc = await connect({ servers, user, pass: process.env.SQ_NATS_PASS, inboxPrefix: user ? `_INBOX_${user}` : undefined });
  const m = await nc.request('$JS.API.STREAM.LIST', new TextEncoder().encode('{"offset":0}'), { timeout: 5000 });
  for (const si of JSON.parse(Buffer.from(m.data).toString()).streams || [])
    console.log(`${si.config.name} ${si.state.messages} ${si.state.bytes}`);
  await nc.close();
})().catch(() => process.exit(0));
JSEOF
  while read -r name m b; do
    printf '%s %s %s %s\n' "$name" "$m" "$b" \
      "$(du -sk "$STATE"/nats/js/jetstream/*/streams/"$name" 2>/dev/null | awk '{s += $1} END {print s + 0}')"
  done
}
field() { awk -v n="$2" -v f="$3" '$1 == n {print $f}' <<<"$1"; } # SNAPSHOT STREAM COLUMN
in_flight() { echo $(( $(field "$1" SQ_WORK 2 || echo 0) + $(field "$1" SQ_ACTIVATIONS 2 || echo 0) )); }

D0=$(disk_kb) R0=$(rss_kb) S0="$(streams)"
LUA="$STATE/js-post.lua"
wrk_lua '{"n":1}' >"$LUA"
printf 'bench: jetstream: %s s of non-blocking invokes\n' "$SECS" >&2
# nats-server's memory and the store's disk during the load, every tenth of it (at least 5 s):
# flat means they stop growing once the load runs, whatever its length
EVERY=$(( SECS / 10 > 5 ? SECS / 10 : 5 ))
( while sleep "$EVERY"; do echo "$(rss_kb) $(disk_kb)"; done ) >"$STATE/js-samples" 2>/dev/null &
SAMPLER=$!
OUT="$(wrk -t2 -c16 -d"${SECS}s" -s "$LUA" "$API/actions/bench-echo")"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
N=$(reqs "$OUT")
RPS=$(rps "$OUT")
# answered 503 "System is overloaded" once SQ_WORK reached its byte cap (SQ_JS_WORK_MAX_MB)
REFUSED=$(echo "$OUT" | awk '/Non-2xx or 3xx responses/ {print $NF}')
REFUSED=${REFUSED:-0}
D1=$(disk_kb) R1=$(rss_kb) S1="$(streams)"
t0=$(date +%s)
S2="$S1"
while (( $(date +%s) - t0 < DRAIN )); do
  S2="$(streams)"
  [[ -n $S2 && $(in_flight "$S2") == 0 ]] && break
  sleep 1
done
T2=$(( $(date +%s) - t0 ))
D2=$(disk_kb) R2=$(rss_kb)
printf 'bench: jetstream: drained in %s s; settling %s s\n' "$T2" "$SETTLE" >&2
sleep "$SETTLE"
D3=$(disk_kb) R3=$(rss_kb) S3="$(streams)"
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
echo "| JetStream store on disk: before / after ${SECS} s of non-blocking invokes, drained | $(mb "$D0") | $(mb "$D2") | right after the load $(mb "$D1"); settled $(mb "$D3"); ${N:-?} invokes at ${RPS:-?} req/s, $(( ${N:-0} - REFUSED )) accepted, ${REFUSED} refused (503: SQ_WORK at its cap of ${SQ_JS_WORK_MAX_MB:-64} MB); drained in ${T2} s; must stay flat |"
echo "| nats-server RSS: before / drained | $(mb "$R0") | $(mb "$R2") | right after the load $(mb "$R1"); settled (${SETTLE} s later) $(mb "$R3") |"
SERIES_R=$(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 / 1024 }' "$STATE/js-samples")
SERIES_D=$(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $2 / 1024 }' "$STATE/js-samples")
echo "| nats-server RSS / JetStream disk during the load, every ${EVERY} s (MB) | | | RSS ${SERIES_R:-?}; disk ${SERIES_D:-?} |"
# one row per stream: messages (bytes, files on disk)
st() { # SNAPSHOT STREAM
  local m; m="$(field "$1" "$2" 2)"
  if [[ -z $m ]]; then echo "?"; return; fi
  echo "$m ($(field "$1" "$2" 3) B, $(field "$1" "$2" 4) kB)"
}
for name in $(awk '{print $1}' <<<"$S0$(printf '\n')$S3" | sort -u); do
  echo "| stream $name: messages (bytes, files): before / drained | $(st "$S0" "$name") | $(st "$S2" "$name") | right after the load $(st "$S1" "$name"); settled $(st "$S3" "$name") |"
done
