#!/usr/bin/env bash
# The benchmark: warm blocking invoke latency through the whole stack (gateway -> scheduler ->
# invoker -> gateway over real NATS, one keep-alive HTTP connection, a trivial Node.js action),
# printed beside the physical floors measured in the same run: a raw NATS request/reply, a
# raw actionloop round trip to a bare Node process over pipes, an lws HTTP round trip, and,
# for the throughput rows, NATS request/reply, JetStream publish + ack and lws HTTP with 32
# in flight; the fragments of ops/bench.d get the floors exported (lib.sh, "floors") and
# print each figure's ratio to its floor. Results go to stdout and to docs/BENCHMARKS.md.
# Run through `ops/squall bench` (release build). Not a test: it reports.
#
# Knobs: SQ_BENCH_SECONDS (10), SQ_BENCH_N (5000, for the floors), SQ_BENCH_NO_DOC=1,
# SQ_BENCH_SCALE=1 (the "how cost grows" rows of ops/bench.d/scale.sh: long),
# SQ_BENCH_PROFILE=1 (the loads of the rows that miss their goal sampled with perf, the whole
# machine; each profile, headed by its row, goes to stderr: ops/bench.d/lib.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SQ_BUILD_DIR:-$ROOT/build}"
SECONDS_RUN="${SQ_BENCH_SECONDS:-10}"
N="${SQ_BENCH_N:-5000}"
STATE="$(mktemp -d /tmp/squall-bench.XXXXXX)"
mapfile -t PORTS < <("$ROOT/ops/squall" freeport 3)
NATS_PORT=${PORTS[0]} PG_PORT=${PORTS[1]} GW_PORT=${PORTS[2]}
export SQ_STATE_DIR="$STATE" SQ_NATS_PORT="$NATS_PORT" SQ_PG_PORT="$PG_PORT" SQ_GATEWAY_PORT="$GW_PORT"
export SQ_BUILD_DIR="$BUILD" SQ_NO_INSTALL=1 SQ_NO_BUILD=1 SQ_LOG_LEVEL=warning
# SQ_BENCH_SCALE=1 runs ops/bench.d/scale.sh too: its 500 warm actions (128 MB each) must all
# fit in the invoker's memory
[[ ${SQ_BENCH_SCALE:-} == 1 ]] && export SQ_INVOKER_MEMORY_MB="${SQ_INVOKER_MEMORY_MB:-100000}"

cleanup() { "$ROOT/ops/squall" down --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

log() { printf 'bench: %s\n' "$*" >&2; }
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
# no perf: said once here, and the fragments not asked to profile
if [[ ${SQ_BENCH_PROFILE:-} == 1 ]] && ! profile_on; then export SQ_BENCH_PROFILE=0; fi

log "starting a private stack in $STATE"
"$ROOT/ops/squall" up >/dev/null
# shellcheck disable=SC1091
source "$STATE/env"
API="http://127.0.0.1:$GW_PORT/api/v1/namespaces/_"
# a benchmark measures speed, not the guest namespace's rate limits (120 per minute)
"$BUILD/ops/squall-admin" namespace limits set guest invocationsPerMinute=2000000000 \
  concurrentInvocations=1000000 firesPerMinute=2000000000 >/dev/null
AUTH="$(printf '%s' "$SQ_GUEST_KEY" | base64 -w0)"

warm_action bench-echo '{"exec":{"kind":"nodejs:20","code":"function main(a){return {ok:true, n:a.n||0}}"}}' \
  50 '{"n":1}'

log "floor 1: raw NATS request/reply"
NATS_LINE="$("$BUILD/ops/bench-nats" --url "$SQ_NATS_URL" -n "$N")"
log "floor 2: raw actionloop round trip (bare node over pipes), warm container, cold start"
RT_LINES="$("$BUILD/services/invoker/bench_runtime" -n "$N" 2>/dev/null || true)"
log "floor 3: lws HTTP round trip (GET /healthz), 1 and 32 connections"
HZ1="$(wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$GW_PORT/healthz")"
HZ32="$(wrk -t2 -c32 -d5s --latency "http://127.0.0.1:$GW_PORT/healthz")"
log "floor 4: NATS request/reply, 32 in flight"
NATS32_LINE="$("$BUILD/ops/bench-nats" --url "$SQ_NATS_URL" --inflight 32 --seconds 5 || true)"
# JetStream's floor on a nats-server of its own (same binary, JetStream on, a store in
# $STATE): the stack's users may not make streams, and the bench's stream stays out of its
# state. The work item and the record are ~500 bytes.
log "floor 5: JetStream publish + ack, 32 in flight (a nats-server of its own)"
JS_PORT="$("$ROOT/ops/squall" freeport 1)"
nats-server -js -a 127.0.0.1 -p "$JS_PORT" -sd "$STATE/floor-js" >"$STATE/floor-js.log" 2>&1 &
JS_PID=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$JS_PORT") 2>/dev/null && break; sleep 0.05; done
JS_LINE="$("$BUILD/ops/bench-nats" --url "nats://127.0.0.1:$JS_PORT" --js --inflight 32 --seconds 5 --size 512 || true)"
kill "$JS_PID" 2>/dev/null || true
wait "$JS_PID" 2>/dev/null || true

log "warm blocking invoke, one connection, ${SECONDS_RUN}s"
LUA="$STATE/post.lua"
wrk_lua '{"n":1}' >"$LUA"
# SQ_BENCH_PROFILE=1: this load's CPU by process (/proc) and its profile
PROF_INV="warm blocking invoke, 1 connection"
if profile_on; then cpu_snap >"$STATE/cpu.inv0"; fi
profile_start "$PROF_INV"
WRK_OUT="$(wrk -t1 -c1 -d"${SECONDS_RUN}s" --latency -s "$LUA" "$API/actions/bench-echo?blocking=true&result=true")"
profile_stop
if profile_on; then cpu_snap >"$STATE/cpu.inv1"; fi
GET_LUA="$STATE/get.lua"
wrk_lua >"$GET_LUA"
log "warm registry read (GET action), one connection, ${SECONDS_RUN}s"
GET_OUT="$(wrk -t1 -c1 -d"${SECONDS_RUN}s" --latency -s "$GET_LUA" "$API/actions/bench-echo?code=false")"
CONC_OUT="$(wrk -t2 -c16 -d"${SECONDS_RUN}s" --latency -s "$LUA" "$API/actions/bench-echo?blocking=true&result=true")"

INV_P50=$(pct "$WRK_OUT" "50%"); INV_P99=$(pct "$WRK_OUT" "99%")
INV_REQS=$(reqs "$WRK_OUT")
INV_RPS=$(rps "$WRK_OUT")
CONC_P50=$(pct "$CONC_OUT" "50%"); CONC_P99=$(pct "$CONC_OUT" "99%")
GET_P50=$(pct "$GET_OUT" "50%"); GET_P99=$(pct "$GET_OUT" "99%")
GET_RPS=$(rps "$GET_OUT")
CONC_RPS=$(rps "$CONC_OUT")
ERRS=$(echo "$WRK_OUT$CONC_OUT$GET_OUT" | awk '/Non-2xx|Socket errors/' || true)

if profile_on; then
  profile_end "$PROF_INV"
  # what an invoke costs in CPU beside how long it takes: the difference is waiting
  INV_CPU="$(cpu_per_req "$STATE/cpu.inv0" "$STATE/cpu.inv1" "$(( ${INV_REQS:-0} > 0 ? INV_REQS : 1 ))" perf)"
  INV_CPU_TOT="${INV_CPU##*total }"
  INV_MEAN=$(( 1000000 / (${INV_RPS:-0} > 0 ? INV_RPS : 1) ))
  if (( INV_CPU_TOT <= INV_MEAN )); then
    INV_REST="the rest, $(( INV_MEAN - INV_CPU_TOT )) µs of the mean, is waiting/wake-ups"
  else
    # one connection, yet more CPU than wall time: work beside the invoke's path (its record
    # stored, JetStream) ran on the other core(s) at the same time
    INV_REST="more than the mean wall time by $(( INV_CPU_TOT - INV_MEAN )) µs: work beside the invoke's path ran on the other core(s) meanwhile, so the path's waiting is not wall minus CPU; the $(nproc) cores stood idle $(( $(nproc) * INV_MEAN - INV_CPU_TOT )) µs per invoke"
  fi
  log "$PROF_INV: wall p50 ${INV_P50} µs (mean ${INV_MEAN} µs, p99 ${INV_P99} µs; issue 14's goal p50 ≤ 600 µs: $(miss "$INV_P50" 600 µs), p99 ≤ 2000 µs: $(miss "$INV_P99" 2000 µs)), CPU ${INV_CPU_TOT} µs per invoke summed over processes: ${INV_REST}"
  log "$PROF_INV: CPU per invoke by process (µs; /proc, the whole machine, perf itself left out but not its sampling interrupts): ${INV_CPU}"
fi

field() { echo "$1" | grep -o "$2=[0-9]*" | head -1 | cut -d= -f2 || true; }
NATS_P50=$(field "$NATS_LINE" p50); NATS_P99=$(field "$NATS_LINE" p99)
RT_FLOOR=$(echo "$RT_LINES" | grep '^runtime_floor_us' || true)
RT_WARM=$(echo "$RT_LINES" | grep '^container_warm_us' || true)
RT_COLD=$(echo "$RT_LINES" | grep '^cold_start_us' || true)
RT_P50=$(field "$RT_FLOOR" p50); RT_P99=$(field "$RT_FLOOR" p99)
WARM_P50=$(field "$RT_WARM" p50); WARM_P99=$(field "$RT_WARM" p99)
COLD_P50=$(field "$RT_COLD" p50)

# the hot path is three one-way bus messages (gateway -> scheduler -> invoker -> gateway),
# i.e. one and a half NATS round trips, plus one runtime round trip; HTTP is extra
FLOOR=$(( NATS_P50 * 3 / 2 + RT_P50 ))
HZ1_P50=$(pct "$HZ1" "50%"); HZ1_P99=$(pct "$HZ1" "99%"); HZ1_RPS=$(rps "$HZ1")
HZ32_P50=$(pct "$HZ32" "50%"); HZ32_P99=$(pct "$HZ32" "99%"); HZ32_RPS=$(rps "$HZ32")
NATS32_RPS=$(field "$NATS32_LINE" rps); JS_RPS=$(field "$JS_LINE" rps)
# The floors the fragments print their figures beside (lib.sh, "floors"). Rates: the cores
# are shared by every step of a request, so a request of K_i steps of floor rate R_i has the
# floor rate 1 / sum(K_i / R_i). The runtime's rate is one round trip per core at a time
# (nproc / its p50): both ends of the pipe work, so a core serves one exchange at a time.
NCPU="$(nproc)"
RT_RPS=$(( RT_P50 > 0 ? NCPU * 1000000 / RT_P50 : 0 ))
export FLOOR_NATS_US="$NATS_P50" FLOOR_RT_US="${RT_P50:-}" FLOOR_HTTP_US="$HZ1_P50"
FLOOR_COLD_STEM_US="$(field "$(echo "$RT_LINES" | grep '^cold_stem_us' || true)" p50)"
FLOOR_COLD_BARE_US="$(field "$(echo "$RT_LINES" | grep '^cold_start_bare_us' || true)" p50)"
export FLOOR_COLD_STEM_US FLOOR_COLD_BARE_US
export FLOOR_NATS_RPS="${NATS32_RPS:-0}" FLOOR_JS_RPS="${JS_RPS:-0}" FLOOR_HTTP_RPS="${HZ32_RPS:-0}"
# a warm blocking invoke: HTTP, 1.5 NATS round trips (request to the scheduler, work to the
# invoker, record to the gateway), the runtime, the record's JetStream publish (its storing
# in PostgreSQL not counted)
export FLOOR_INVOKE_US=$(( FLOOR + HZ1_P50 ))
FLOOR_INVOKE_RPS="$(rate_sum "1 $FLOOR_HTTP_RPS" "1.5 $FLOOR_NATS_RPS" "1 $RT_RPS" "1 $FLOOR_JS_RPS")"
# a non-blocking accept: HTTP, one NATS round trip (gateway <-> scheduler), the work's
# JetStream publish + ack
FLOOR_ACCEPT_RPS="$(rate_sum "1 $FLOOR_HTTP_RPS" "1 $FLOOR_NATS_RPS" "1 $FLOOR_JS_RPS")"
# a fire of a trigger with 10 rules, accepted: HTTP, two NATS round trips (gateway <->
# triggers, triggers <-> scheduler with the ten rules in one), eleven JetStream publishes (ten
# works, the trigger's record); the rules' runs are not counted
FLOOR_FIRE_RPS="$(rate_sum "1 $FLOOR_HTTP_RPS" "2 $FLOOR_NATS_RPS" "11 $FLOOR_JS_RPS")"
export FLOOR_INVOKE_RPS FLOOR_ACCEPT_RPS FLOOR_FIRE_RPS
# the first invoke of a new action: the warm path's floor with the init of a stem cell
export FLOOR_FIRST_US=$(( FLOOR_INVOKE_US + ${FLOOR_COLD_STEM_US:-0} - ${RT_P50:-0} ))

REPORT=$(cat <<EOF2
| figure | p50 | p99 | note |
|---|---|---|---|
| warm blocking invoke, 1 connection (HTTP -> gateway -> scheduler -> invoker -> gateway) | ${INV_P50} µs | ${INV_P99} µs | ${INV_REQS} calls, ${INV_RPS} req/s; $(x_floor "$INV_P50" "$FLOOR_INVOKE_US") (${FLOOR_INVOKE_US} µs: the physical floor below + the HTTP floor); issue 14's goal p50 ≤ 600 µs: $(miss "$INV_P50" 600 µs), p99 ≤ 2000 µs: $(miss "$INV_P99" 2000 µs) |
| warm blocking invoke, 16 connections | ${CONC_P50} µs | ${CONC_P99} µs | ${CONC_RPS} req/s; $(x_floor_rate "$CONC_RPS" "$FLOOR_INVOKE_RPS") (${FLOOR_INVOKE_RPS}/s, the throughput floor below) |
| warm registry read: GET action, 1 connection (HTTP -> gateway -> registry -> PostgreSQL) | ${GET_P50} µs | ${GET_P99} µs | ${GET_RPS} req/s; $(x_floor "$GET_P50" "$(( NATS_P50 + HZ1_P50 ))") ($(( NATS_P50 + HZ1_P50 )) µs: one NATS round trip + the HTTP floor; the indexed SELECT not counted) |
| floor: raw NATS request/reply (SendAsap) | ${NATS_P50} µs | ${NATS_P99} µs | one bus hop and back |
| floor: raw NATS request/reply, 32 in flight | | | ${NATS32_RPS:-n/a} round trips/s (two connections of bench-nats, the stack's nats-server) |
| floor: JetStream publish + ack, 32 in flight, 512 bytes, file store, Nats-Msg-Id | | | ${JS_RPS:-n/a} acks/s (a nats-server of its own, same binary) |
| floor: lws HTTP round trip, GET /healthz, 1 connection (the gateway's event loop alone) | ${HZ1_P50:-n/a} µs | ${HZ1_P99:-n/a} µs | ${HZ1_RPS:-n/a} req/s |
| floor: lws HTTP, GET /healthz, 32 connections | ${HZ32_P50:-n/a} µs | ${HZ32_P99:-n/a} µs | ${HZ32_RPS:-n/a} req/s |
| floor: raw actionloop round trip, bare node over pipes | ${RT_P50:-n/a} µs | ${RT_P99:-n/a} µs | no sandbox, no bus; ${RT_RPS}/s counted as one round trip per core at a time |
| throughput floor of a warm blocking invoke | | | ${FLOOR_INVOKE_RPS}/s: 1 / (1 / HTTP 32 + 1.5 / NATS 32 + 1 / runtime + 1 / JetStream 32), every step on the same ${NCPU} cores; the record's insert into PostgreSQL not counted |
| throughput floor of a non-blocking accept | | | ${FLOOR_ACCEPT_RPS}/s: 1 / (1 / HTTP 32 + 1 / NATS 32 + 1 / JetStream 32) |
| throughput floor of a fire of a trigger with 10 rules, accepted | | | ${FLOOR_FIRE_RPS}/s: 1 / (1 / HTTP 32 + 2 / NATS 32 + 11 / JetStream 32): two round trips, ten works and the trigger's record made durable |
| warm round trip through the container module (bwrap sandbox) | ${WARM_P50:-n/a} µs | ${WARM_P99:-n/a} µs | |
| cold start: sandbox + node + init + first run | ${COLD_P50:-n/a} µs | | median |
| physical floor of an invoke: 3 one-way bus hops + runtime round trip | ${FLOOR} µs | | 1.5 × NATS round trip p50 + runtime p50 (HTTP not counted) |
| ratio: warm invoke p50 / physical floor | $(ratio "$INV_P50" "$FLOOR") | | |
EOF2
)
# More figures: every ops/bench.d/*.sh but lib.sh (their helpers) runs against the same stack
# with API, AUTH, BUILD, STATE and the stack's env exported, and prints markdown table rows
# (same four columns).
export API AUTH BUILD STATE ROOT SECONDS_RUN N
# scheduler.sh last: its store fragment leaves 100 000 records in JetStream, which slows every
# later figure (nats-server is the bottleneck then; issue 13/14). SQ_BENCH_SKIP="a b" leaves
# fragments out.
parts=()
DEAD=""
for part in "$ROOT"/ops/bench.d/*.sh; do
  case $(basename "$part") in scheduler.sh | lib.sh) ;; *) parts+=("$part") ;; esac
done
[[ -e $ROOT/ops/bench.d/scheduler.sh ]] && parts+=("$ROOT/ops/bench.d/scheduler.sh")
# scale.sh (SQ_BENCH_SCALE=1) after it: its millions of records and hundreds of containers
# would weigh on every other figure
parts=("${parts[@]/*\/scale.sh/}")
[[ -e $ROOT/ops/bench.d/scale.sh ]] && parts+=("$ROOT/ops/bench.d/scale.sh")
for part in "${parts[@]}"; do
  [[ -e $part ]] || continue
  if [[ " ${SQ_BENCH_SKIP:-} " == *" $(basename "$part" .sh) "* ]]; then
    log "skipping $(basename "$part") (SQ_BENCH_SKIP)"
    continue
  fi
  log "running $(basename "$part")"
  if rows="$(bash "$part")"; then
    REPORT="$REPORT
$rows"
  else
    log "$(basename "$part") failed"
  fi
  # a service that died under a fragment invalidates what follows: said where the figures go,
  # with the end of its log (the state directory goes with the stack)
  for pidf in "$STATE"/pids/*.pid; do
    svc="$(basename "$pidf" .pid)"
    if ! kill -0 "$(cat "$pidf")" 2>/dev/null; then
      log "$svc is not running after $(basename "$part"); the end of its log:"
      tail -n 30 "$STATE/logs/$svc.log" >&2 2>/dev/null || true
      DEAD="${DEAD:+$DEAD, }$svc during $(basename "$part")"
      cp "$STATE/logs/$svc.log" "/tmp/squall-bench-$svc-$(date +%s).log" 2>/dev/null || true
    fi
  done
done

if [[ -n ${DEAD:-} ]]; then
  REPORT="$REPORT

**A service died in this run ($DEAD); the figures after it are not valid.**"
fi
echo "$REPORT"
if [[ -n $ERRS ]]; then
  # figures over failed requests measure nothing: say so where the figures go
  log "wrk reported errors: $ERRS"
  REPORT="$REPORT

**wrk reported errors in this run; the core figures above are not valid:** $(echo "$ERRS" | tr '\n' ' ')"
fi

if [[ -z ${SQ_BENCH_NO_DOC:-} ]]; then
  # what follows the notes marker in docs/BENCHMARKS.md (analyses, longer runs) is kept
  MARK='<!-- notes below are kept by ops/bench.sh -->'
  NOTES=""
  if [[ -f $ROOT/docs/BENCHMARKS.md ]] && grep -qF "$MARK" "$ROOT/docs/BENCHMARKS.md"; then
    NOTES=$(awk -v m="$MARK" 'f { print } $0 == m { f = 1 }' "$ROOT/docs/BENCHMARKS.md")
  fi
  {
    echo "# Benchmarks"
    echo
    echo "Latest run of \`ops/squall bench\` ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))."
    echo "Medians and ratios to the floor measured in the same run; these machines are shared and noisy."
    echo
    echo "$REPORT"
    echo
    echo "Raw lines:"
    echo
    echo '```'
    echo "$NATS_LINE"
    echo "$NATS32_LINE"
    echo "$JS_LINE"
    echo "$RT_LINES"
    echo "$WRK_OUT" | sed -n '/Latency Distribution/,/Requests\/sec/p'
    echo '```'
    echo
    echo "$MARK"
    echo "$NOTES"
  } >"$ROOT/docs/BENCHMARKS.md"
  log "wrote docs/BENCHMARKS.md"
fi
