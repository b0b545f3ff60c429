#!/usr/bin/env bash
# Benchmark fragment (run by ops/bench.sh against its stack, with API, AUTH, BUILD, STATE,
# ROOT, SECONDS_RUN exported): the WebSocket API's figures, measured by a node client
# (ops/bench.d/ws.js, with the npm packages of test/e2e): gateway RSS with many idle
# authenticated sockets and REST p50 with and without them, and invoke over a socket beside
# REST; then the fan-out of an activation record to many subscribed sockets, measured by
# $BUILD/ops/bench-ws-fanout (C, epoll, the kernel's receive time of every frame) beside its
# floors (the same number of raw send()s on loopback, by one thread and by as many threads
# as the gateway's senders): node clients reading 1000 sockets measured their own reading
# more than the gateway (SQ_BENCH_WS_ONLY=fanout runs that node figure as well). Knobs: SQ_BENCH_WS_IDLE (10000 sockets), SQ_BENCH_WS_FANOUT (1000
# sockets), SQ_BENCH_WS_ONLY (idle,invoke; add fanout for the node clients' figure).
# With SQ_BENCH_PROFILE=1 the fan-out's rounds (once bench-ws-fanout has its sockets open,
# until it opens those of its floor) are sampled with perf and the profile goes to stderr
# (ops/bench.d/lib.sh).
set -uo pipefail
# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
if [[ ! -d $ROOT/test/e2e/node_modules/ws ]]; then
  row "WebSocket figures" "n/a" "n/a" "no test/e2e/node_modules/ws: run npm install in test/e2e"
  exit 0
fi
# the client holds one descriptor per socket
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SQ_TEST_ENV="$STATE/env" NODE_PATH="$ROOT/test/e2e/node_modules" SQ_BENCH_WS_ONLY="${SQ_BENCH_WS_ONLY:-idle,invoke}" \
  node --max-old-space-size=2048 "$ROOT/ops/bench.d/ws.js"

# the fan-out, on the server's side of the wire (ws.js created the action bench-ws)
FANOUT="${SQ_BENCH_WS_FANOUT:-1000}"
port="${API#http://127.0.0.1:}"
port="${port%%/*}"
FANOUT_ARGS=(--url "$SQ_NATS_URL" --port "$port" --key "$SQ_GUEST_KEY" -n "$FANOUT"
  -r "$((SECONDS_RUN * 3 > 10 ? SECONDS_RUN * 3 : 10))" --action bench-ws)
PROF_FAN="fan-out of a record to $FANOUT websockets"
if profile_on; then
  # bench-ws-fanout says nothing until it ends: its rounds are found by its descriptors. They
  # start when it has opened its FANOUT sockets and then its epoll instance (its highest
  # descriptor then), and end when it opens the sockets of its floor (twice as many more).
  # Polled every 20 ms by looking up one descriptor (no process started, no directory read)
  "$BUILD/ops/bench-ws-fanout" "${FANOUT_ARGS[@]}" >"$STATE/ws-fanout.out" 2>&1 &
  fpid=$!
  profile_start "$PROF_FAN" paused
  rm -f "$STATE/ws-tick"
  mkfifo "$STATE/ws-tick"
  exec {tick}<>"$STATE/ws-tick"
  sampling="" top=$FANOUT seen=0
  while kill -0 "$fpid" 2>/dev/null; do
    if [[ -z $sampling ]]; then
      # top: the lowest descriptor from FANOUT up not open (descriptors are taken lowest first)
      while [[ -L /proc/$fpid/fd/$top ]]; do top=$((top + 1)); done
      if (( top > FANOUT && top != seen )); then
        seen=$top
        if [[ $(readlink "/proc/$fpid/fd/$((top - 1))" 2>/dev/null) == 'anon_inode:[eventpoll]' ]]; then
          profile_resume
          sampling=1
        fi
      fi
    elif [[ -L /proc/$fpid/fd/$((top + FANOUT / 2)) ]]; then
      break
    fi
    read -r -t 0.02 -u "$tick" _ || true
  done
  profile_stop
  exec {tick}>&-
  rm -f "$STATE/ws-tick"
  wait "$fpid"
  line="$(cat "$STATE/ws-fanout.out")"
  [[ -n $sampling ]] || profile_log "$PROF_FAN: its rounds were not seen (no epoll descriptor after $FANOUT sockets): no profile"
else
  line="$("$BUILD/ops/bench-ws-fanout" "${FANOUT_ARGS[@]}" 2>&1)"
fi
f() { echo "$line" | grep -o " $1=[0-9-]*" | cut -d= -f2; }
if profile_on; then
  PROFILE_BUSY=1 profile_end "$PROF_FAN (bench-ws-fanout's rounds: one invoke, its record to every socket, 200 ms a round)"
  profile_log "$PROF_FAN: p50 $(f p50) µs (goal ≤ 2000 µs: $(miss "$(f p50)" 2000 µs)), first socket $(f first_p50) µs, last $(f last_p50) µs; one thread's floor (raw send()s) $(f floor_p50) µs"
fi
if [[ -z $(f p50) ]]; then
  row "fan-out: an activation record to $FANOUT subscribed sockets" "n/a" "n/a" "bench-ws-fanout failed: ${line//|//}"
else
  row "fan-out: an activation record to $FANOUT subscribed sockets (announcement on NATS → kernel receive of the frame)" \
    "$(f p50) µs" "$(f p99) µs" "$(f records) records, $(f frames) frames, $(f missing) missing; first socket p50 $(f first_p50) µs, last $(f last_p50) µs; goal p50 ≤ 2 ms"
  row "floor: $FANOUT raw send()s of a $(f frame_bytes)-byte frame shared by $(f floor_threads) threads, loopback TCP" \
    "$(f floorpar_p50) µs" "" "last $(f floorpar_last) µs; the floor of the gateway's $(f floor_threads) senders (SQ_GATEWAY_WS_SEND_THREADS, one per core by default); ratio fan-out p50 / floor p50: $(ratio "$(f p50)" "$(f floorpar_p50)"); the goal is $(ratio 2000 "$(f floorpar_p50)") × this floor"
  row "floor: the same sends in a row, one thread" \
    "$(f floor_p50) µs" "" "last $(f floor_last) µs; each send on loopback carries the receiver's TCP work (the data and its ACK): $(( $(f floor_last) * 1000 / FANOUT )) ns a send"
fi

# invoke throughput with a C client on both sides: 16 blocking invokes in flight on one
# socket (bench-ws-fanout --inflight) beside wrk with 16 connections, same action, same run
secs=$((SECONDS_RUN / 2 > 1 ? SECONDS_RUN / 2 : 1))
inv="$("$BUILD/ops/bench-ws-fanout" --url "$SQ_NATS_URL" --port "$port" --key "$SQ_GUEST_KEY" \
  -n 1 --inflight 16 --seconds "$secs" --action bench-ws 2>&1)"
lua="$STATE/ws-bench-c.lua"
wrk_lua '{"n":2}' >"$lua"
wrk_out="$(wrk -t2 -c16 -d"${secs}s" --latency -s "$lua" "$API/actions/bench-ws?blocking=true&result=true" 2>&1)"
rest_rps="$(rps "$wrk_out")"
[[ $wrk_out == *Non-2xx* ]] && rest_rps="n/a (non-2xx answers)"
g() { echo "$inv" | grep -o "$1=[0-9-]*" | head -1 | cut -d= -f2; }
if [[ -z $(g invoke_rps) ]]; then
  row "WebSocket invoke throughput, C client" "n/a" "n/a" "bench-ws-fanout failed: ${inv//|//}"
else
  row "WebSocket invoke throughput, 16 in flight on 1 socket, C client" "$(g invoke_rps) /s" "" \
    "p50 $(g p50) µs, p99 $(g p99) µs, $(g errors) errors; REST, wrk, 16 connections, right after: ${rest_rps:-n/a} /s; $(x_floor_rate "$(g invoke_rps)" "${FLOOR_INVOKE_RPS:-0}") (${FLOOR_INVOKE_RPS:-n/a}/s, a warm invoke's throughput floor)"
fi
