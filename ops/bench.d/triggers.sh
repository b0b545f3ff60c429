#!/usr/bin/env bash
# Benchmark fragment (run by ops/bench.sh against its stack, with API, AUTH, BUILD, STATE,
# SECONDS_RUN exported): trigger fires. Prints markdown rows | figure | p50 | p99 | note |.
#
#   - fire of a trigger with one active rule, one keep-alive connection (202 latency)
#   - fan-out: a trigger with 10 active rules fired over 16 connections: fires/s, and whether
#     every rule activation was recorded (activation count of the rules' action afterwards)
#
# The guest namespace's firesPerMinute and invocation limits are raised with squall-admin
# first (the defaults, 60 fires and 120 invocations a minute, would turn a benchmark into a
# 429 test). Without squall-admin or without trigger support in the registry, it says so in
# the table instead of failing. With SQ_BENCH_PROFILE=1 the fan-out's load is sampled with perf
# and its CPU per fire counted by process (/proc), both to stderr (ops/bench.d/lib.sh).
set -uo pipefail

SECS="${SECONDS_RUN:-10}"
H=(-H "Authorization: Basic $AUTH" -H 'Content-Type: application/json')
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"

put() { curl -s -o /dev/null -w '%{http_code}' -X PUT "${H[@]}" "$API/$1?overwrite=true" -d "$2"; }

if [[ -x $BUILD/ops/squall-admin && -n ${SQ_ADMIN_TOKEN:-} ]]; then
  "$BUILD/ops/squall-admin" --url "$SQ_NATS_URL" namespace limits set guest firesPerMinute=100000000 \
    invocationsPerMinute=100000000 concurrentInvocations=100000 >/dev/null 2>&1 ||
    echo "triggers.sh: could not raise the guest limits" >&2
  LIMITS_NOTE="guest limits raised with squall-admin"
else
  LIMITS_NOTE="no squall-admin: default limits (60 fires/min) apply"
fi

code=$(put triggers/bench-t1 '{}')
if [[ $code != 200 ]]; then
  row "trigger fire, 1 active rule" "n/a" "n/a" "the registry does not store triggers (PUT trigger: $code)"
  exit 0
fi
put actions/bench-rule '{"exec":{"kind":"nodejs:20","code":"function main(a){return {ok:true}}"}}' >/dev/null
put rules/bench-r1 '{"trigger":"bench-t1","action":"bench-rule"}' >/dev/null
curl -s -o /dev/null -X POST "${H[@]}" "$API/rules/bench-r1" -d '{"status":"active"}'
for _ in $(seq 1 20); do curl -s -o /dev/null -X POST "${H[@]}" "$API/triggers/bench-t1" -d '{}'; done

LUA="$STATE/fire.lua"
wrk_lua '{"n":1}' >"$LUA"
OUT1="$(wrk -t1 -c1 -d"${SECS}s" --latency -s "$LUA" "$API/triggers/bench-t1")"
P50=$(pct "$OUT1" "50%"); P99=$(pct "$OUT1" "99%")
RPS=$(rps "$OUT1")
NON2XX=$(echo "$OUT1" | awk '/Non-2xx/ {print $NF}')
row "trigger fire, 1 active rule, 1 connection (HTTP -> gateway -> triggers -> scheduler -> JetStream)" \
  "${P50} µs" "${P99} µs" "${RPS} fires/s${NON2XX:+, $NON2XX non-2xx}; $(x_floor "$P50" "$(( ${FLOOR_HTTP_US:-0} + ${FLOOR_NATS_US:-0} ))") ($(( ${FLOOR_HTTP_US:-0} + ${FLOOR_NATS_US:-0} )) µs: the HTTP floor + one NATS round trip); target p50 ≤ 1000 µs; $LIMITS_NOTE"

# fan-out: 10 rules to one action, counted afterwards
put actions/bench-fan '{"exec":{"kind":"nodejs:20","code":"function main(a){return {ok:true}}"}}' >/dev/null
put triggers/bench-t10 '{}' >/dev/null
for i in $(seq 1 10); do
  put "rules/bench-f$i" '{"trigger":"bench-t10","action":"bench-fan"}' >/dev/null
done
sleep 1
# rule activations the scheduler refused with 503 because SQ_WORK was at its byte cap
# (SQ_JS_WORK_MAX_MB): a fire faster than the invokers queues ~10 activations per fire. The
# scheduler warns once a second with the count since its last warning (the last second's
# refusals may be missing: "at least"); GET /metrics has no scheduler instance to ask.
overloaded() {
  cat "$STATE"/logs/scheduler*.log 2>/dev/null |
    sed -n 's/.*SQ_WORK is full.*: \([0-9][0-9]*\) non-blocking invocation(s) refused.*/\1/p' |
    awk '{s += $1} END {printf "%d", s}'
}
over0=$(overloaded)
before=$(curl -s "${H[@]}" "$API/activations?name=bench-fan&count=true" | sed -n 's/.*:\([0-9]*\).*/\1/p')
T0_MS=$(( $(date +%s%N) / 1000000 ))
PROF_FAN="trigger fan-out to 10 rules, 16 connections"
if profile_on; then cpu_snap >"$STATE/cpu.fan0"; fi
profile_start "$PROF_FAN"
OUT10="$(wrk -t2 -c16 -d"${SECS}s" --latency -s "$LUA" "$API/triggers/bench-t10")"
profile_stop
if profile_on; then cpu_snap >"$STATE/cpu.fan1"; fi
TOTAL=$(reqs "$OUT10")
BAD=$(echo "$OUT10" | awk '/Non-2xx/ {print $NF}')
OK=$(( TOTAL - ${BAD:-0} ))
FPS=$(awk -v n="$OK" -v s="$SECS" 'BEGIN { printf "%d", n / s }')
F50=$(pct "$OUT10" "50%"); F99=$(pct "$OUT10" "99%")
# wait for the records to settle: settle N polls the count of the rule activations recorded
# since the load (got) until it reaches N or has not moved for 15 s (SETTLED: reached, still),
# at most until DEADLINE (300 s after the load; SETTLED=deadline): the invokers run what the
# fan-out queued long after it, and the count may stand still for a few seconds while they do
want=$(( OK * 10 ))
got=0 SETTLED=""
DEADLINE=$(( SECONDS + 300 ))
settle() {
  local last=-1 stable=0
  while (( SECONDS < DEADLINE )); do
    got=$(curl -s "${H[@]}" "$API/activations?name=bench-fan&count=true" | sed -n 's/.*:\([0-9]*\).*/\1/p')
    got=$(( ${got:-0} - ${before:-0} ))
    if (( got >= $1 )); then SETTLED=reached; return; fi
    if (( got == last )); then
      stable=$((stable + 1))
      if (( stable >= 30 )); then SETTLED=still; return; fi
    else
      stable=0
    fi
    last=$got
    sleep 0.5
  done
  SETTLED=deadline
}
settle "$want"
if profile_on; then cpu_snap >"$STATE/cpu.fan2"; fi
REFUSED=$(( $(overloaded) - over0 ))
# what the trigger records of the run say of their rules (each lists every rule: accepted
# with its activation id, or failed with why): the recorded rule activations must match the
# accepted ones; a failed rule is reported, a missing record is flagged. rules_of_run prints
# "trigger-records accepted failed why..."
rules_of_run() {
  API="$API" AUTH="$AUTH" node - "$T0_MS" <<'NODE' 2>/dev/null || echo "? ? ?"
(async () => {
  const since = process.argv[2];
  let ok = 0, failed = 0, triggers = 0;
  const why = new Map();
  for (let skip = 0; ; skip += 200) {
    const r = await fetch(`${process.env.API}/activations?name=bench-t10&docs=true&limit=200&skip=${skip}&since=${since}`,
      { headers: { Authorization: `Basic ${process.env.AUTH}` } });
    const page = await r.json();
    if (!Array.isArray(page)) throw new Error(JSON.stringify(page));
    for (const t of page) {
      triggers++;
      for (const l of t.logs || []) {
        const e = JSON.parse(l);
        if (e.success) ok++;
        else { failed++; const k = String(e.error || e.statusCode).replace(/\s*\(.*$/, '').slice(0, 80); why.set(k, (why.get(k) || 0) + 1); }
      }
    }
    if (page.length < 200) break;
  }
  const reasons = [...why].map(([k, n]) => `${n}: ${k}`).join('; ') || 'none';
  console.log(`${triggers} ${ok} ${failed} ${reasons}`);
})().catch((e) => { console.error(e); process.exit(1); });
NODE
}
read -r T_RECS R_OK R_FAILED R_WHY <<<"$(rules_of_run)"
# wrk's count (OK, so want) leaves out the fires still in flight when it stopped: their rules
# are in the trigger records, their activations may still be on their way (and so may the
# trigger records of the last fires). While the records keep coming, wait for what the trigger
# records list, then read those again; stop once the count has stood still for 15 s
t_more=$SECONDS got_more=$got
while [[ $R_OK =~ ^[0-9]+$ ]] && (( got < R_OK )) && [[ $SETTLED == reached ]]; do
  settle "$R_OK"
  read -r T_RECS R_OK R_FAILED R_WHY <<<"$(rules_of_run)"
done
(( got > got_more )) &&
  echo "triggers.sh: $(( got - got_more )) rule activation(s) recorded in the $(( SECONDS - t_more )) s after the count reached 10 per answered fire (fires in flight when wrk stopped)" >&2
LOST=""
[[ $R_OK =~ ^[0-9]+$ ]] && (( got < R_OK )) && LOST="; **MISSING: $(( R_OK - got )) accepted rule activation(s) without a record**"
row "trigger fan-out to 10 rules, 16 connections" "${F50} µs" "${F99} µs" \
  "${FPS} fires/s (${OK} answered 202${BAD:+, $BAD refused}); ${T_RECS} trigger records list ${R_OK} rules accepted and ${R_FAILED} failed (${R_WHY}); ${got} rule activations recorded${LOST} (10 per fire: ${want}; fires still in flight when wrk stops add a few); at least ${REFUSED} refused 503 because SQ_WORK was full (cap SQ_JS_WORK_MAX_MB=${SQ_JS_WORK_MAX_MB:-64} MB); $(x_floor_rate "$FPS" "${FLOOR_FIRE_RPS:-0}") (${FLOOR_FIRE_RPS:-n/a}/s, the fire's throughput floor); target ≥ 5000 fires/s"

if profile_on; then
  profile_end "$PROF_FAN"
  FAN_CPU="$(cpu_per_req "$STATE/cpu.fan0" "$STATE/cpu.fan1" "$(( OK > 0 ? OK : 1 ))" perf)"
  FAN_DRAIN="$(cpu_per_req "$STATE/cpu.fan0" "$STATE/cpu.fan2" "$(( OK > 0 ? OK : 1 ))" perf)"
  profile_log "$PROF_FAN: ${FPS} fires/s (goal ≥ 5000 /s: $(miss "$FPS" 5000 fires/s min)); p50 ${F50} µs"
  profile_log "$PROF_FAN: CPU per fire by process during the load (µs; /proc, the whole machine, perf itself left out): ${FAN_CPU}"
  profile_log "$PROF_FAN: CPU per fire by process, the load and its drain (every rule activation run and recorded, the wait for the count to settle included): ${FAN_DRAIN}: at most $(( $(nproc) * 1000000 / (${FAN_DRAIN##*total } > 0 ? ${FAN_DRAIN##*total } : 1) )) fires/s on $(nproc) cores"
fi

# alarm: a per-second cron through the alarms feed; how late each fire starts after its tick
feed=$(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" "${API%/_}/whisk.system/actions/alarms/alarm?code=false")
if [[ $feed == 200 && -n ${SQ_GUEST_KEY:-} ]]; then
  put triggers/bench-alarm '{}' >/dev/null
  put rules/bench-ra '{"trigger":"bench-alarm","action":"bench-rule"}' >/dev/null
  t0=$(( $(date +%s%3N) + 1000 ))
  curl -s -o /dev/null -X POST "${H[@]}" "${API%/_}/whisk.system/actions/alarms/alarm?blocking=true" \
    -d "{\"lifecycleEvent\":\"CREATE\",\"triggerName\":\"/_/bench-alarm\",\"authKey\":\"$SQ_GUEST_KEY\",\"cron\":\"* * * * * *\"}"
  sleep "$SECS"
  curl -s -o /dev/null -X POST "${H[@]}" "${API%/_}/whisk.system/actions/alarms/alarm?blocking=true" \
    -d "{\"lifecycleEvent\":\"DELETE\",\"triggerName\":\"/_/bench-alarm\",\"authKey\":\"$SQ_GUEST_KEY\"}"
  sleep 1
  LATE=$(curl -s "${H[@]}" "$API/activations?name=bench-alarm&since=$t0&limit=200" |
    grep -o '"start":[0-9]*' | cut -d: -f2 | awk '{print $1 % 1000}' | sort -n)
  NFIRES=$(echo "$LATE" | grep -c . || true)
  if (( NFIRES > 0 )); then
    L50=$(echo "$LATE" | awk -v n="$NFIRES" 'NR == int((n + 1) / 2) {print; exit}')
    L99=$(echo "$LATE" | awk -v n="$NFIRES" 'NR == (int(n * 0.99) > 0 ? int(n * 0.99) : 1) {print; exit}')
    row "alarm: fire start after its cron tick (every second, ${SECS} s)" "$(( L50 * 1000 )) µs" "$(( L99 * 1000 )) µs" \
      "${NFIRES} fires (ms resolution); target ≤ 50 ms; lease = one JetStream KV create"
  else
    row "alarm: fire start after its cron tick" "n/a" "n/a" "no fires recorded"
  fi
  curl -s -o /dev/null -X DELETE "${H[@]}" "$API/rules/bench-ra"
  curl -s -o /dev/null -X DELETE "${H[@]}" "$API/triggers/bench-alarm"
else
  row "alarm: fire start after its cron tick" "n/a" "n/a" "the alarms feed is not installed (GET: $feed)"
fi

# clean up what the run made
for i in $(seq 1 10); do curl -s -o /dev/null -X DELETE "${H[@]}" "$API/rules/bench-f$i"; done
curl -s -o /dev/null -X DELETE "${H[@]}" "$API/rules/bench-r1"
for t in bench-t1 bench-t10; do curl -s -o /dev/null -X DELETE "${H[@]}" "$API/triggers/$t"; done
exit 0
