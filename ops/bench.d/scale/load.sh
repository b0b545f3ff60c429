# shellcheck shell=bash
# The "actions", "warm" and "nonblocking" rows of ops/bench.d/scale.sh (sourced). See scale.sh
# for the knobs.

# p50 of a GET of bench-echo and of a warm blocking invoke of it; prints "get invoke errors"
measure_action() {
  local g i
  g="$(run_wrk -s "$LUA_AUTH" "$API/actions/bench-echo?code=false")"
  i="$(run_wrk -s "$LUA_POST" "$API/actions/bench-echo?blocking=true&result=true")"
  local e="$(errs "$g")$(errs "$i")"
  echo "$(pct "$g" 50%) $(pct "$i" 50%) ${e:-none}"
}

# SQL that adds the actions [from, to) to the registry's table: copies of bench-echo's row,
# 100 to a namespace, guest's first (the namespace of the measured action), then
# scale-ns-0001... up to the namespaces asked.
actions_sql() {
  local per=$((ACTIONS / NSPACES))
  cat <<SQLEOF
INSERT INTO registry_actions (namespace, package, name, version, kind, code, main, is_binary,
                              parameters, annotations, limits, publish, updated, components)
SELECT CASE WHEN i / $per = 0 THEN 'guest' ELSE 'scale-ns-' || lpad((i / $per)::text, 4, '0') END,
       '', 'scale-a-' || lpad(i::text, 6, '0'), a.version, a.kind, a.code, a.main, a.is_binary,
       a.parameters, a.annotations, a.limits, a.publish, a.updated + i, a.components
FROM registry_actions a, generate_series($1, $2 - 1) i
WHERE a.namespace = 'guest' AND a.package = '' AND a.name = 'bench-echo';
ANALYZE registry_actions;
SQLEOF
}

actions_rows() {
  local s m secs t0
  log "actions: 10 actions"
  "${PSQL[@]}" -c "$(actions_sql 0 9)" >/dev/null
  read -r -a s <<<"$(measure_action)"
  log "actions: loading $ACTIONS actions in $NSPACES namespaces"
  t0=$(date +%s)
  "${PSQL[@]}" -c "$(actions_sql 9 "$ACTIONS")" >/dev/null
  secs=$(($(date +%s) - t0))
  read -r -a m <<<"$(measure_action)"
  local n
  n="$("${PSQL[@]}" -c "SELECT count(*) || ' actions in ' || count(DISTINCT namespace) || ' namespaces' FROM registry_actions")"
  echo "| GET action, $n vs 10 | ${m[0]} µs | ${s[0]} µs | ratio $(ratio "${m[0]}" "${s[0]}") ($(within "${m[0]}" "${s[0]}" 10) within 10 %); loaded with SQL into the registry's table in ${secs} s (copies of the bench action's row); errors: ${m[2]}/${s[2]} |"
  echo "| warm invoke, $n vs 10 | ${m[1]} µs | ${s[1]} µs | ratio $(ratio "${m[1]}" "${s[1]}") ($(within "${m[1]}" "${s[1]}" 10) within 10 %) |"
  "${PSQL[@]}" -c "DELETE FROM registry_actions WHERE name LIKE 'scale-a-%'" >/dev/null
}

# RSS and PSS (kB) summed over the invoker's node processes, and their number
containers_mem() {
  local inv pids p rss=0 pss=0 n=0
  inv="$(cat "$STATE/pids/invoker.pid")"
  # every descendant of the invoker whose command is node (one per container)
  pids="$(ps -e -o pid=,ppid=,comm= | awk -v root="$inv" '
    { parent[$1] = $2; comm[$1] = $3 }
    END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q];
          if (q == root && comm[p] == "node") print p } }')"
  for p in $pids; do
    rss=$((rss + $(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    n=$((n + 1))
  done
  echo "$rss $pss $n"
}

warm_rows() {
  local paths="$STATE/scale-warm.txt" i hot spread bad=0
  log "warm: creating and warming $WARM actions"
  : >"$paths"
  for ((i = 0; i < WARM; i++)); do
    printf '/api/v1/namespaces/_/actions/scale-w-%04d?blocking=true&result=true\n' "$i" >>"$paths"
  done
  # create, then a first (cold) invoke of each, four at a time
  seq 0 $((WARM - 1)) | xargs -P4 -I{} bash -c '
    n=$(printf "scale-w-%04d" {})
    curl -sf -X PUT -H "Authorization: Basic $1" -H "Content-Type: application/json" \
      "$2/actions/$n?overwrite=true" -d "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"function main(a){return {ok:true, n:a.n||0}}\"},\"limits\":{\"memory\":128}}" >/dev/null &&
    curl -sf -X POST -H "Authorization: Basic $1" -H "Content-Type: application/json" \
      "$2/actions/$n?blocking=true&result=true" -d "{\"n\":1}" >/dev/null || echo "$n failed" >&2' _ "$AUTH" "$API" 2>"$STATE/scale-warm.err" || bad=1
  [[ -s $STATE/scale-warm.err ]] && bad=1
  local mem
  read -r -a mem <<<"$(containers_mem)"
  rand_lua "$paths" '{"n":1}' >"$STATE/scale-warm.lua"
  hot="$(run_wrk -s "$LUA_POST" "$API/actions/bench-echo?blocking=true&result=true")"
  profile_start "warm spread" "$SECS"
  spread="$(run_wrk -s "$STATE/scale-warm.lua" "${API%%/api/*}")"
  profile_end "warm invokes spread over $WARM warm actions (SQ_BENCH_PROFILE=1)"
  local e="$(errs "$hot")$(errs "$spread")" inv_rss
  [[ $bad == 1 ]] && e+=" $(wc -l <"$STATE/scale-warm.err") actions failed to create or warm"
  inv_rss="$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$(cat "$STATE/pids/invoker.pid")/status")"
  local per_rss per_pss
  per_rss=$(awk -v k="${mem[0]}" -v n="${mem[2]}" 'BEGIN { if (n > 0) printf "%.1f", k / n / 1024; else print "n/a" }')
  per_pss=$(awk -v k="${mem[1]}" -v n="${mem[2]}" 'BEGIN { if (n > 0) printf "%.1f", k / n / 1024; else print "n/a" }')
  local sp hp
  sp=$(pct "$spread" 50%) hp=$(pct "$hot" 50%)
  echo "| warm invoke spread over $WARM warm actions vs one hot action | ${sp} µs | ${hp} µs | ratio $(ratio "$sp" "$hp") ($(within "$sp" "$hp" 20) within 20 %); p99 $(pct "$spread" 99%) / $(pct "$hot" 99%) µs; ${mem[2]} containers: RSS $per_rss MB, PSS $per_pss MB per container; invoker RSS $inv_rss MB; errors: ${e:-none} |"
  seq 0 $((WARM - 1)) | xargs -P4 -I{} bash -c 'curl -sf -X DELETE -H "Authorization: Basic $1" \
    "$2/actions/$(printf "scale-w-%04d" {})" >/dev/null || true' _ "$AUTH" "$API"
}

# records of bench-echo stored (the per-day counts: cheap whatever the number)
stored() {
  "${PSQL[@]}" -c "SELECT coalesce(sum(n), 0) FROM activation_counts WHERE namespace = 'guest' AND name = 'bench-echo'"
}

# "work W, records R": the messages not yet taken by the invokers from SQ_WORK and by the store
# from SQ_ACTIVATIONS (where a lag sits: running the work, or storing its records)
backlog() {
  NODE_PATH="$ROOT/test/e2e/node_modules" timeout 20 node - <<'JSEOF' 2>/dev/null || echo "? (stream info failed)"
const { connect } = require('nats');
(async () => {
  const servers = process.env.SQ_NATS_URL.replace(/\/\/[^@/]*@/, '//');
  const user = process.env.SQ_NATS_USER;
  const nc = await connect({ servers, user, pass: process.env.SQ_NATS_PASS, inboxPrefix: user ? `_INBOX_${user}` : undefined });
  const jsm = await nc.jetstreamManager();
  const pending = async (s) => {
    let n = 0;
    for await (const ci of jsm.consumers.list(s)) n += ci.num_pending + ci.num_ack_pending;
    return n;
  };
  console.log(`work ${await pending('SQ_WORK')}, records ${await pending('SQ_ACTIVATIONS')}`);
  await nc.close();
})().catch(() => { console.log('? (stream info failed)'); });
JSEOF
}

nonblocking_rows() {
  local lua="$STATE/scale-nb.lua" before out n non2xx accepted t_end lag=-1 got
  local per_thread=$((RATE / 2))
  # wrk cannot hold a rate: each thread stretches or shrinks the pause of its 16 connections
  # once a second so that it sends per_thread requests a second
  cat >"$lua" <<LUAEOF
dofile("$LUA_POST")
local d, n, t0 = 16000 / $per_thread, 0, os.time()
function delay() return d end
function response(status, headers, body)
  n = n + 1
  local t = os.time()
  if t ~= t0 then
    if n / (t - t0) < $per_thread then d = d * 0.8 else d = d * 1.2 end
    n, t0 = 0, t
  end
end
LUAEOF
  local size0 parts0
  size0="$("${PSQL[@]}" -c "SELECT pg_database_size(current_database())")"
  parts0="$("${PSQL[@]}" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'activations'::regclass")"
  before="$(stored)"
  log "nonblocking: ${RATE}/s for ${NB_SECS} s"
  # SQ_BENCH_PROFILE=1: the load's first 30 s sampled, and its CPU per accepted invoke
  if profile_on; then cpu_snap >"$STATE/cpu.nb0"; fi
  profile_start "nonblocking" $((NB_SECS < 30 ? NB_SECS : 30))
  out="$(wrk -t2 -c32 -d"${NB_SECS}s" --latency -s "$lua" "$API/actions/bench-echo")"
  t_end=$(date +%s%N)
  if profile_on; then cpu_snap >"$STATE/cpu.nb1"; fi
  profile_end "non-blocking invokes asked at ${RATE}/s, the first 30 s of the load"
  n=$(reqs "$out")
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  accepted=$((n - ${non2xx:-0}))
  local left
  left="$(backlog)"
  for _ in $(seq 1 1200); do
    got="$(stored)"
    if ((got - before >= accepted)); then
      lag=$((($(date +%s%N) - t_end) / 1000000))
      break
    fi
    sleep 0.1
  done
  if profile_on; then
    log "nonblocking: CPU per accepted invoke by process during the load (µs; /proc, the whole machine, perf left out): $(cpu_per_req "$STATE/cpu.nb0" "$STATE/cpu.nb1" "$((accepted > 0 ? accepted : 1))" perf)"
  fi
  local size1 parts1 upkeep
  size1="$("${PSQL[@]}" -c "SELECT pg_database_size(current_database())")"
  parts1="$("${PSQL[@]}" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'activations'::regclass")"
  upkeep="$("${PSQL[@]}" -c "SELECT coalesce(sum(autovacuum_count), 0) || ' autovacuums, ' || coalesce(sum(autoanalyze_count), 0) || ' autoanalyzes, ' || coalesce(sum(n_dead_tup), 0) || ' dead rows'
    FROM pg_stat_user_tables WHERE relname LIKE 'activations_d%' OR relname = 'activation_counts'")"
  mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1048576 }'; }
  local e
  e="$(errs "$out")"
  echo "| non-blocking at ${RATE}/s asked for ${NB_SECS} s: lag of the records at the end | ${lag} ms | | $(rps "$out") req/s held (accepts p50 $(pct "$out" 50%) µs, p99 $(pct "$out" 99%) µs); ${accepted} accepted, $((got - before)) stored; not yet taken when the load stopped: ${left}; goal lag ≤ 2000 ms: $( ((lag >= 0 && lag <= 2000)) && echo ok || echo MISSED); errors: ${e:-none} |"
  echo "| PostgreSQL during that run: database size before / after | $(mb "$size0") | $(mb "$size1") | partitions $parts0 -> $parts1 (daily; the store creates today's and tomorrow's ahead, drops expired ones hourly); upkeep: $upkeep |"
}
