#!/usr/bin/env bash
# JetStream's footprint under load (issue 13: JetStream holds what is in flight, not a second
# archive): the disk of the JetStream store and nats-server's resident memory before a load
# of non-blocking invokes (SQ_BENCH_JS_SECONDS, default 60; the issue's check is 600), right
# after it, and once the activation store has caught up (SQ_ACTIVATIONS drained, at most 60 s).
# With interest retention the records leave the stream once stored: disk and memory stay
# flat. Prints markdown rows (ops/bench.sh's four columns).
set -euo pipefail
: "${API:?run through ops/bench.sh}" "${AUTH:?}" "${STATE:?}" "${ROOT:?}"
SECS="${SQ_BENCH_JS_SECONDS:-60}"
PID="$(cat "$STATE/pids/nats.pid")"

disk_kb() { du -sk "$STATE/nats/js" | awk '{print $1}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
# messages and bytes in SQ_ACTIVATIONS (as ops: stream info is allowed)
stream_state() {
  NODE_PATH="$ROOT/test/e2e/node_modules" timeout 20 node - <<'JSEOF' 2>/dev/null || echo "? ?"
const { connect } = require('nats');
(async () => {
  const servers = process.env.SQ_NATS_URL.replace(/\/\/[^@/]*@/, '//');
  const user = process.env.SQ_NATS_USER;
  const nc = await connect({ servers, user, pass: process.env.SQ_NATS_PASS, inboxPrefix: user ? `_INBOX_${user}` : undefined });
  const m = await nc.request('$JS.API.STREAM.INFO.SQ_ACTIVATIONS', new Uint8Array(0), { timeout: 5000 });
  const si = JSON.parse(Buffer.from(m.data).toString());
  console.log(`${si.state.messages} ${si.state.bytes}`);
  await nc.close();
})().catch(() => { console.log('? ?'); process.exit(0); });
JSEOF
}

D0=$(disk_kb) R0=$(rss_kb) S0="$(stream_state)"
LUA="$STATE/js-post.lua"
cat >"$LUA" <<LUAEOF
wrk.method = "POST"
wrk.body = '{"n":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $AUTH"
LUAEOF
printf 'bench: jetstream: %s s of non-blocking invokes\n' "$SECS" >&2
OUT="$(wrk -t2 -c16 -d"${SECS}s" -s "$LUA" "$API/actions/bench-echo")"
N=$(echo "$OUT" | awk '/requests in/ {print $1}')
RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print int($2)}')
D1=$(disk_kb) R1=$(rss_kb) S1="$(stream_state)"
S2="$S1"
for _ in $(seq 1 60); do
  S2="$(stream_state)"
  [[ ${S2%% *} == 0 ]] && break
  sleep 1
done
D2=$(disk_kb) R2=$(rss_kb)
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
echo "| JetStream store on disk: before / after ${SECS} s of non-blocking invokes / drained | $(mb "$D0") | $(mb "$D2") | right after the load $(mb "$D1"); ${N:-?} invokes, ${RPS:-?} req/s; must stay flat |"
echo "| nats-server RSS: before / drained | $(mb "$R0") | $(mb "$R2") | right after the load $(mb "$R1") |"
echo "| SQ_ACTIVATIONS messages (bytes): before / after the load / drained | ${S0% *} (${S0#* }) | ${S2% *} (${S2#* }) | right after ${S1% *} (${S1#* }); interest retention: a record leaves once stored |"
