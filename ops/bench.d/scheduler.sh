#!/usr/bin/env bash
# Benchmark fragment (ops/bench.sh runs it against its stack): the scheduler and the activation
# store under load. Prints markdown rows | figure | p50 | p99 | note |.
#
#   - warm blocking invokes, 32 keep-alive connections (wrk): throughput, latency, and the
#     records of the run counted in PostgreSQL afterwards;
#   - non-blocking accepts (202 once JetStream has the work), 32 connections: throughput, and
#     every accepted one's record counted in PostgreSQL once the invoker has run them;
#   - the activation store alone: records published straight into SQ_ACTIVATIONS while the
#     store is stopped, then the store started: records persisted per second.
# Each load's CPU is counted by process (from /proc: what every command of the machine took,
# per request), which says where the time goes and how many invokes per second the cores
# could give at most. The guest namespace's limits are raised for the run (squall-admin).
# With SQ_BENCH_PROFILE=1 each load phase is also sampled with perf (cpu-clock, the whole
# machine) and the top symbols of each command go to stderr.
#
# Knobs: SQ_BENCH_SECONDS (from bench.sh), SQ_BENCH_STORE_N (100000 records).
set -euo pipefail
: "${API:?}" "${AUTH:?}" "${BUILD:?}" "${STATE:?}" "${ROOT:?}"
SECS="${SECONDS_RUN:-10}"
STORE_N="${SQ_BENCH_STORE_N:-100000}"
NCPU="$(nproc)"
PSQL=(psql -h "$STATE/pg/run" -p "$SQ_PG_PORT" -U postgres -d squall -XtAq)
NODE_PATH="$ROOT/test/e2e/node_modules"
export NODE_PATH

# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
log() { printf 'bench/scheduler: %s\n' "$*" >&2; }
count() { "${PSQL[@]}" -c "select count(*) from activations where name = '$1'"; }

# wait_count NAME WANT SECS: until NAME has WANT records (or SECS pass); prints the count
wait_count() {
  local c=0 i
  for (( i = 0; i < $3 * 10; i++ )); do
    c="$(count "$1")"
    (( c >= $2 )) && break
    sleep 0.1
  done
  printf '%s' "$c"
}

# the profiles' views as they have always been here: at most 6 frames a command, 60 in all
PROFILE_PER_COMM=6 PROFILE_TOP=60

# load NAME X URL: SECS s of wrk, 32 connections, at URL, between the CPU snaps cpu.X0 and
# cpu.X1 (and sampled by perf as NAME with SQ_BENCH_PROFILE=1); sets P50, P99, RPS, REQ
# (requests) and ERR (answers other than 2xx) from what wrk reports
load() {
  local out
  profile_start "$1" "$SECS"
  cpu_snap >"$STATE/cpu.${2}0"
  out="$(wrk -t2 -c32 -d"${SECS}s" --latency -s "$LUA" "$3")"
  cpu_snap >"$STATE/cpu.${2}1"
  profile_end "$1"
  P50=$(pct "$out" "50%") P99=$(pct "$out" "99%") RPS=$(rps "$out")
  read -r REQ ERR <<<"$(echo "$out" | awk '/^COMPLETE/ {print $2, $3}')"
}

"$BUILD/ops/squall-admin" --url "$SQ_NATS_URL" --token "$SQ_ADMIN_TOKEN" namespace limits set guest \
  invocationsPerMinute=100000000 concurrentInvocations=100000000 >/dev/null

warm_action bench-sched \
  '{"exec":{"kind":"nodejs:20","code":"function main(a){return {ok:true}}"},"limits":{"memory":128}}' 20 '{}'
before="$(count bench-sched)"

LUA="$STATE/sched.lua"
{
  wrk_lua '{}'
  cat <<'LUAEOF'
done = function(summary, latency, requests)
  io.write(string.format("COMPLETE %d %d\n", summary.requests, summary.errors.status))
end
LUAEOF
} >"$LUA"

# ---- warm blocking invokes, 32 connections: first 3 s of the same load unmeasured, so that
# the containers 32 at once need are in memory (warm: no cold start in the measured run)
log "warm blocking invokes, 32 connections, ${SECS}s (after 3 s of warm-up)"
wrk -t2 -c32 -d3s -s "$LUA" "$API/actions/bench-sched?blocking=true&result=true" >/dev/null
sleep 2 # the warm-up's records stored
before="$(count bench-sched)"
load blocking b "$API/actions/bench-sched?blocking=true&result=true"
B_P50=$P50 B_P99=$P99 B_RPS=$RPS B_REQ=$REQ B_ERR=$ERR
B_WANT=$(( before + B_REQ - B_ERR ))
B_REC="$(wait_count bench-sched "$B_WANT" 60)"
B_CPU="$(cpu_per_req "$STATE/cpu.b0" "$STATE/cpu.b1" "$(( B_REQ > 0 ? B_REQ : 1 ))")"
B_TOT="${B_CPU##*total }"
before="$B_REC"

# ---- non-blocking accepts, 32 connections
log "non-blocking accepts, 32 connections, ${SECS}s"
load nonblocking n "$API/actions/bench-sched"
N_P50=$P50 N_P99=$P99 N_RPS=$RPS N_REQ=$REQ N_ERR=$ERR
N_WANT=$(( before + N_REQ - N_ERR ))
t0=$(date +%s%N)
N_REC="$(wait_count bench-sched "$N_WANT" 300)"
N_DRAIN_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
cpu_snap >"$STATE/cpu.n2" # the drain included: every accepted invoke run and stored
N_CPU="$(cpu_per_req "$STATE/cpu.n0" "$STATE/cpu.n2" "$(( N_REQ > 0 ? N_REQ : 1 ))")"
N_ACPU="$(cpu_per_req "$STATE/cpu.n0" "$STATE/cpu.n1" "$(( N_REQ > 0 ? N_REQ : 1 ))")"
N_TOT="${N_CPU##*total }"

# ---- the activation store alone
log "activation store: $STORE_N records published while it is stopped, then drained"
svc_pid="$(cat "$STATE/pids/activations.pid")"
kill -TERM "$svc_pid"
for _ in $(seq 1 100); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
STORE_NAME="bench-store-$$-$RANDOM"
STORE_IDS="$STATE/bench-store-ids" # every id published, to find each one not stored
# as the invoker's NATS user: only the record publishers may publish on sq.act.>
INV_PASS="$SQ_NATS_PASS" INV_USER="$SQ_NATS_USER"
if [[ -f $STATE/nats/users ]]; then
  INV_USER=invoker INV_PASS="$(awk '$1 == "invoker" {print $2}' "$STATE/nats/users")"
fi
PUB_FAILED=0
INV_USER="$INV_USER" INV_PASS="$INV_PASS" node - "$SQ_NATS_URL" "$STORE_N" "$STORE_NAME" "$STORE_IDS" <<'NODE' || PUB_FAILED=1
const { connect } = require('nats');
const { Packr } = require('msgpackr');
const crypto = require('crypto');
const p = new Packr({ useRecords: false, mapsAsObjects: true });
(async () => {
  const [url, n, name, idsFile] = [process.argv[2], +process.argv[3], process.argv[4], process.argv[5]];
  const ids = [];
  const user = process.env.INV_USER;
  const nc = await connect({ servers: url.replace(/\/\/[^@/]*@/, '//'), user, pass: process.env.INV_PASS,
    inboxPrefix: user ? `_INBOX_${user}` : undefined });
  const js = nc.jetstream();
  const now = BigInt(Date.now());
  let inflight = [];
  for (let i = 0; i < n; i++) {
    const id = crypto.randomBytes(16).toString('hex');
    ids.push(id);
    const rec = { activationId: id, namespace: 'guest', name, version: '0.0.1', subject: 'guest',
      start: now, end: now + 1n, duration: 1,
      response: { status: 'success', statusCode: 0, success: true, result: { ok: true, i } },
      logs: ['2026-01-01T00:00:00.000Z stdout: a line of log'],
      annotations: [{ key: 'path', value: 'guest/bench-store' }, { key: 'kind', value: 'nodejs:20' },
        { key: 'limits', value: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 } }, { key: 'waitTime', value: 1 }],
      publish: false };
    inflight.push(js.publish('sq.act.guest', p.pack(rec), { msgID: id, timeout: 30000 }));
    if (inflight.length >= 500) { await Promise.all(inflight); inflight = []; }
  }
  await Promise.all(inflight);
  require('fs').writeFileSync(idsFile, ids.join('\n') + '\n');
  await nc.close();
})().catch((e) => { console.error(e); process.exit(1); });
NODE
(( PUB_FAILED == 0 )) || log "activation store: the publisher failed; the store is started again all the same"
# started again as ops/squall starts it: its own NATS user when the stack has users
ACT_URL="$SQ_NATS_URL"
if [[ -f $STATE/nats/users ]]; then
  pw="$(awk '$1 == "activations" {print $2}' "$STATE/nats/users")"
  [[ -n $pw ]] && ACT_URL="nats://activations:$pw@127.0.0.1:$SQ_NATS_PORT"
fi
# and its own PostgreSQL role (ops/squall's pg_dsn) when the stack has them
ACT_DSN=""
if [[ -f $STATE/pgpass/activations ]]; then
  ACT_DSN="host=$STATE/pg/run port=$SQ_PG_PORT dbname=squall user=sq_activations passfile=$STATE/pgpass/activations"
fi
setsid bash -c 'set -a; . "$0"; set +a; unset SQ_ADMIN_TOKEN SQ_NATS_USER SQ_NATS_PASS; export SQ_NATS_URL=$3;
                [[ -n $4 ]] && export SQ_PG_DSN=$4; echo $$ > "$1"; exec "$2"' \
  "$STATE/env" "$STATE/pids/activations.pid" "$BUILD/services/activations/squall-activations" "$ACT_URL" "$ACT_DSN" \
  </dev/null >>"$STATE/logs/activations.log" 2>&1 &
# the clock starts with the first record stored (the service's start-up is not throughput)
for _ in $(seq 1 300); do (( $(count "$STORE_NAME") > 0 )) && break; sleep 0.02; done
t0=$(date +%s%N)
first="$(count "$STORE_NAME")"
S_REC="$(wait_count "$STORE_NAME" "$STORE_N" 300)"
S_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
S_REC_TIMED=$(( S_REC - first ))
S_RPS=$(( S_REC_TIMED * 1000 / (S_MS > 0 ? S_MS : 1) ))
# every published id looked up, not a count: a record stored twice must not hide one missing
S_MISSING=0 S_MISSING_NOTE=""
if [[ -s $STORE_IDS ]]; then
  S_MISSING="$(comm -23 <(sort "$STORE_IDS") \
    <("${PSQL[@]}" -c "select replace(id::text, '-', '') from activations where name = '$STORE_NAME'" | sort) | tee "$STORE_IDS.missing" | wc -l)"
  if (( S_MISSING > 0 )); then
    S_MISSING_NOTE="; **MISSING: ${S_MISSING} published record(s) not stored** (ids in $STORE_IDS.missing, first $(head -n 1 "$STORE_IDS.missing"))"
    log "activation store: ${S_MISSING} published record(s) NOT stored after 300 s (ids in $STORE_IDS.missing)"
  fi
else
  S_MISSING_NOTE="; **the published ids are unknown: nothing checked**"
fi

# flag ERRORS RECORDS WANTED: a load with answers other than 2xx or records missing is not a
# figure: said first in its row
flag() {
  if (( ${1:-0} > 0 || ${2:-0} < ${3:-0} )); then
    printf '**NOT VALID: %s answers other than 2xx, %s of %s records** ' "${1:-0}" "${2:-0}" "${3:-0}"
  fi
}
mark() { if (( $1 >= $2 )); then printf 'met'; else awk -v a="$1" -v b="$2" 'BEGIN { printf "MISSED by %.0f%%", (1 - a / b) * 100 }'; fi; }
cat <<EOF
| warm blocking invokes, 32 connections | ${B_P50} µs | ${B_P99} µs | $(flag "$B_ERR" "$B_REC" "$B_WANT")${B_RPS} req/s (target ≥ 10000: $(mark "$B_RPS" 10000)); $(x_floor_rate "$B_RPS" "${FLOOR_INVOKE_RPS:-0}") (${FLOOR_INVOKE_RPS:-n/a}/s, a warm invoke's throughput floor); ${B_REQ} requests, ${B_ERR} errors; records in PostgreSQL after the run: $(( B_REC ))/${B_WANT} |
| non-blocking accepts (202 after the JetStream ack), 32 connections | ${N_P50} µs | ${N_P99} µs | $(flag "$N_ERR" "$N_REC" "$N_WANT")${N_RPS} req/s (target ≥ 30000: $(mark "$N_RPS" 30000)); $(x_floor_rate "$N_RPS" "${FLOOR_ACCEPT_RPS:-0}") (${FLOOR_ACCEPT_RPS:-n/a}/s, an accept's throughput floor); ${N_REQ} accepted, ${N_ERR} errors; records: ${N_REC}/${N_WANT}, the last ${N_DRAIN_MS} ms after the run |
| CPU per warm blocking invoke at 32 connections, by process (µs; /proc, the whole machine) | ${B_TOT} µs | | ${B_CPU} µs: at most $(( NCPU * 1000000 / (B_TOT > 0 ? B_TOT : 1) )) invokes/s on ${NCPU} cores with nothing else running |
| CPU per non-blocking invoke, accepted and then run and stored, by process (µs) | ${N_TOT} µs | | ${N_CPU} µs (during the accepts alone: ${N_ACPU} µs, the run of earlier ones included) |
| activation store: records persisted from JetStream into PostgreSQL | | | ${S_RPS} records/s (target ≥ 30000: $(mark "$S_RPS" 30000)); ${S_REC}/${STORE_N} records stored, ${S_REC_TIMED} of them in the ${S_MS} ms after the first (batches of up to ${SQ_ACT_BATCH:-1024}, two-stage fetch/insert pipeline)${S_MISSING_NOTE} |
EOF
