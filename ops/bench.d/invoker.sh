#!/usr/bin/env bash
# Benchmark fragment (ops/bench.sh runs it against its stack): the invoker and its runtimes,
# each figure beside the floor measured in the same run.
#
#   - bench_runtime (no bus): the bare actionloop floor (node over pipes), a warm round trip
#     through the container module under bwrap with the invoker's seccomp filter and cgroups,
#     cold starts with a stem cell ready (init + first run) and without (start + init + run),
#     for nodejs, python:3 and native, and the memory of one idle warm node container.
#   - through the invoker over NATS (no gateway, no scheduler): work items sent straight to
#     sq.invoker.<id>.run with our inbox as reply subject, the activation record coming back;
#     the floor is a NATS request/reply to a responder in the same client (the same hops).
#     Warm: one action over and over. Cold with a stem cell: every item names a new version
#     of the action (a new container), spaced so that the keeper has a stem cell ready again.
#
# Prints markdown rows | figure | p50 | p99 | note |. Needs API, AUTH, BUILD, ROOT, N and the
# stack's environment (SQ_NATS_URL) exported by ops/bench.sh; runs as root for the cgroups.
# With SQ_BENCH_PROFILE=1 the cold loop without a stem cell is sampled with perf and its
# profile goes to stderr (ops/bench.d/lib.sh).
set -euo pipefail
: "${BUILD:?}" "${ROOT:?}" "${API:?}" "${AUTH:?}" "${SQ_NATS_URL:?}"
N="${N:-5000}"
INVOKER_ID="${SQ_INVOKER_ID:-$(cat "${SQ_STATE_DIR:-/nonexistent}/invoker/invoker-id" 2>/dev/null || echo invoker0)}"
log() { printf 'bench invoker: %s\n' "$*" >&2; }
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"

log "bench_runtime (floor, sandboxed warm, cold starts, idle memory)"
PROF_COLD="invoker: cold start without a stem cell"
if profile_on; then
  # the same run, its lines read as they come (it prints each figure when done): its cold loop
  # without a stem cell (cold_start_us) runs right after cold_stem_us, or after net_setup_us
  # and cold_stem_nonet_us when containers get a network namespace; perf, started paused,
  # samples from the line before it to its own
  RT=""
  profile_start "$PROF_COLD" paused
  while IFS= read -r line; do
    RT+="$line"$'\n'
    case $line in
      "cold_stem_us "* | "cold_stem_nonet_us "*) profile_resume ;;
      "net_setup_us "*) profile_cancel && profile_start "$PROF_COLD" paused ;; # not the cold loop
      "cold_start_us "*) profile_stop ;;
    esac
  done < <("$BUILD/services/invoker/bench_runtime" -n "$N" -c 20 2>/dev/null || true)
  profile_end "$PROF_COLD (bench_runtime's 20 cold starts under bwrap + cgroups, node)"
else
  RT="$("$BUILD/services/invoker/bench_runtime" -n "$N" -c 20 2>/dev/null || true)"
fi
field() { echo "$RT" | grep "^$1 " | grep -o "$2=[0-9]*" | head -1 | cut -d= -f2 || true; }
us() { local v; v="$(field "$1" "$2")"; [[ -n $v ]] && echo "$v µs" || echo "n/a"; }
ms() { local v; v="$(field "$1" "$2")"; [[ -n $v ]] && awk -v v="$v" 'BEGIN{printf "%.1f ms", v/1000}' || echo "n/a"; }
FLOOR=$(field runtime_floor_us p50)
WARM=$(field container_warm_us p50)
RSS=$(field idle_rss_kb rss)
PSS=$(field idle_rss_kb pss)
MEMCG=$(field idle_rss_kb memcg_kb)
STEM=$(field cold_stem_us p50)
COLD=$(field cold_start_us p50)
BARE=$(field cold_start_bare_us p50)

log "through the invoker over NATS"
# the bench action of ops/bench.sh, with its code, as the work item carries it
ACTION_JSON="$(curl -sf -H "Authorization: Basic $AUTH" "$API/actions/bench-echo?code=true")"
# work items are sent as the scheduler's NATS user (the only one that may), and answered on
# a subject of the scheduler's (sq.sched.r.>, where invokers may answer); the echo floor as ops
SCHED_PASS=""
if [[ -f ${SQ_STATE_DIR:-}/nats/users ]]; then SCHED_PASS="$(awk '$1 == "scheduler" {print $2}' "$SQ_STATE_DIR/nats/users")"; fi
NODE_OUT="$(ACTION_JSON="$ACTION_JSON" INVOKER_ID="$INVOKER_ID" N="$N" SCHED_PASS="$SCHED_PASS" \
  NODE_PATH="$ROOT/test/e2e/node_modules" timeout 300 node - <<'JSEOF' 2>/dev/null || true
const { connect, createInbox } = require('nats');
const { Packr } = require('msgpackr');
const crypto = require('crypto');
const p = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });
const action = JSON.parse(process.env.ACTION_JSON);
if (action.updated) action.updated = BigInt(action.updated); // ms: msgpackr would pack a float
const N = Math.min(Number(process.env.N) || 5000, 5000);
const subject = `sq.invoker.${process.env.INVOKER_ID}.run`;
const pct = (a, q) => { const s = [...a].sort((x, y) => x - y); return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * q))]); };
(async () => {
  const servers = process.env.SQ_NATS_URL.replace(/\/\/[^@/]*@/, '//');
  const user = process.env.SQ_NATS_USER;
  const nc = await connect({ servers, user, pass: process.env.SQ_NATS_PASS, inboxPrefix: user ? `_INBOX_${user}` : undefined });
  const sched = process.env.SCHED_PASS
    ? await connect({ servers, user: 'scheduler', pass: process.env.SCHED_PASS, inboxPrefix: '_INBOX_scheduler' }) : nc;
  // floor: request/reply to a responder in this client (client -> server -> responder -> server -> client)
  nc.subscribe('bench.invoker.echo', { callback: (e, m) => m.respond(m.data) });
  const inbox = process.env.SCHED_PASS ? `sq.sched.r.bench${crypto.randomBytes(8).toString('hex')}.x` : createInbox();
  const sub = sched.subscribe(inbox);
  const it = sub[Symbol.asyncIterator]();
  const work = (act) => p.pack({ id: crypto.randomBytes(16).toString('hex'), subject: 'guest', key: '', reply: inbox,
    blocking: true, submitted: BigInt(Date.now()), action: act, params: { n: 1 } });
  const rt = async (act) => {
    const t0 = process.hrtime.bigint();
    sched.publish(subject, work(act));
    const m = await Promise.race([it.next(), new Promise((_, no) => setTimeout(() => no(new Error('no record within 10 s')), 10000))]);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    return { us, rec: p.unpack(m.value.data) };
  };
  const echo = [], warm = [];
  const payload = work(action);
  for (let i = 0; i < 300; i++) await nc.request('bench.invoker.echo', payload);
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    await nc.request('bench.invoker.echo', payload);
    echo.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  for (let i = 0; i < 300; i++) await rt(action);
  for (let i = 0; i < N; i++) warm.push((await rt(action)).us);
  // cold with a stem cell: a new version each time (a new container), spaced for the keeper
  const cold = [], initMs = [];
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 400));
    const act = Object.assign({}, action, { version: `9.${Date.now()}.${i}`, limits: Object.assign({}, action.limits, { memory: 128 }) });
    const { us, rec } = await rt(act);
    const a = (rec.annotations || []).find((x) => x.key === 'initTime');
    if (rec.response && rec.response.success && a) { cold.push(us); initMs.push(a.value); }
  }
  console.log(`echo_us p50=${pct(echo, 0.5)} p99=${pct(echo, 0.99)}`);
  console.log(`invoker_warm_us p50=${pct(warm, 0.5)} p99=${pct(warm, 0.99)}`);
  if (cold.length) console.log(`invoker_cold_stem_us p50=${pct(cold, 0.5)} p99=${pct(cold, 0.99)} n=${cold.length} init_ms_p50=${pct(initMs, 0.5)}`);
  if (sched !== nc) await sched.drain();
  await nc.drain();
})().catch((e) => { console.error(e); process.exit(1); });
JSEOF
)"
nf() { echo "$NODE_OUT" | grep "^$1 " | grep -o "$2=[0-9]*" | head -1 | cut -d= -f2 || true; }
ECHO=$(nf echo_us p50); ECHO99=$(nf echo_us p99)
IW=$(nf invoker_warm_us p50); IW99=$(nf invoker_warm_us p99)
IC=$(nf invoker_cold_stem_us p50); IC99=$(nf invoker_cold_stem_us p99); ICN=$(nf invoker_cold_stem_us n)

budget() { # figure floor extra -> "ok"/"misses by"
  [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
  awk -v f="$1" -v fl="$2" -v x="$3" 'BEGIN { d = f - fl; if (d <= x) printf "%+d µs over the floor (target ≤ +%d): met", d, x; else printf "%+d µs over the floor (target ≤ +%d): misses by %d µs", d, x, d - x }'
}
target_ms() { # value_us target_ms
  [[ -n $1 ]] || { echo "n/a"; return; }
  awk -v v="$1" -v t="$2" 'BEGIN { if (v <= t * 1000) printf "target ≤ %d ms: met", t; else printf "target ≤ %d ms: misses by %.1f ms", t, v / 1000 - t }'
}
if profile_on; then
  log "$PROF_COLD: p50 $(ms cold_start_us p50), p99 $(ms cold_start_us p99) (goal ≤ 30 ms: $(miss "$(awk -v v="$COLD" 'BEGIN { if (v != "") printf "%.1f", v / 1000 }')" 30 ms)); bwrap + node alone (no sandbox): $(ms cold_start_bare_us p50)$( [[ -n $COLD && -n $BARE ]] && awk -v c="$COLD" -v b="$BARE" 'BEGIN { printf ", the sandbox and cgroups %+.1f ms", (c - b) / 1000 }')"
fi
INV_FLOOR=""
[[ -n $ECHO && -n $FLOOR ]] && INV_FLOOR=$(( ECHO + FLOOR ))

cat <<EOF
| invoker: floor, bare node actionloop round trip over pipes (no sandbox) | $(us runtime_floor_us p50) | $(us runtime_floor_us p99) | bench_runtime |
| invoker: warm round trip through the container module, bwrap + seccomp + cgroups | $(us container_warm_us p50) | $(us container_warm_us p99) | $(budget "$WARM" "$FLOOR" 100) |
| invoker: the same, thawed before and frozen after every run (cgroup freezer) | $(us container_warm_freeze_us p50) | $(us container_warm_freeze_us p99) | $(budget "$(field container_warm_freeze_us p50)" "$WARM" 50) over the warm run: so the pool freezes only after SQ_INVOKER_FREEZE_MS idle |
| invoker: warm run on a frozen container (thaw + run): the first after an idle period | $(us container_thaw_us p50) | $(us container_thaw_us p99) | a steady stream never pays it |
| invoker: floor, NATS request/reply to a responder in the client | ${ECHO:-n/a} µs | ${ECHO99:-n/a} µs | the hops of a work item and its record |
| invoker: warm round trip through the invoker over NATS (work item in, record out) | ${IW:-n/a} µs | ${IW99:-n/a} µs | floor = NATS floor + runtime floor = ${INV_FLOOR:-n/a} µs; $(budget "$IW" "$INV_FLOOR" 100) |
| invoker: cold start with a stem cell, work received to record (over NATS) | $( [[ -n $IC ]] && awk -v v="$IC" 'BEGIN{printf "%.1f ms", v/1000}' || echo n/a) | $( [[ -n $IC99 ]] && awk -v v="$IC99" 'BEGIN{printf "%.1f ms", v/1000}' || echo n/a) | ${ICN:-0} new containers; $(target_ms "$IC" 8); $(x_floor "$IC" "$(( ${ECHO:-0} + ${STEM:-0} ))") ($(( ${ECHO:-0} + ${STEM:-0} )) µs: the NATS floor here + init and first run on a stem cell) |
| invoker: cold start with a stem cell, init + first run (container module) | $(ms cold_stem_us p50) | $(ms cold_stem_us p99) | $(target_ms "$STEM" 8) |
| invoker: cold start without a stem cell: sandbox + cgroups + node + init + run | $(ms cold_start_us p50) | $(ms cold_start_us p99) | $(target_ms "$COLD" 30); bwrap + node alone (no sandbox): $(ms cold_start_bare_us p50), $(x_floor "$COLD" "$BARE") |
| invoker: python:3 cold start, with / without a stem cell | $(ms cold_stem_python_us p50) / $(ms cold_start_python_us p50) | | |
| invoker: native (shell script) cold start with a stem cell | $(ms cold_stem_native_us p50) | | |
| invoker: memory of one idle warm node container (bwrap ×2 + node) | ${PSS:-n/a} kB PSS | | RSS ${RSS:-n/a} kB counts node's binary, shared by every container; memory cgroup charge ${MEMCG:-n/a} kB; target RSS ≤ 40 MB |
EOF
