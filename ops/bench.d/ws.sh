#!/usr/bin/env bash
# Benchmark fragment (run by ops/bench.sh against its stack, with API, AUTH, BUILD, STATE,
# ROOT, SECONDS_RUN exported): the WebSocket API's figures, measured by a node client
# (ops/bench.d/ws.js, with the npm packages of test/e2e): gateway RSS with many idle
# authenticated sockets and REST p50 with and without them, fan-out of an activation
# record to many subscribed sockets, and invoke over a socket beside REST. Knobs:
# SQ_BENCH_WS_IDLE (10000 sockets), SQ_BENCH_WS_FANOUT (1000 sockets).
set -uo pipefail
row() { printf '| %s | %s | %s | %s |\n' "$@"; }
if [[ ! -d $ROOT/test/e2e/node_modules/ws ]]; then
  row "WebSocket figures" "n/a" "n/a" "no test/e2e/node_modules/ws: run npm install in test/e2e"
  exit 0
fi
# the client holds one descriptor per socket
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SQ_TEST_ENV="$STATE/env" NODE_PATH="$ROOT/test/e2e/node_modules" \
  node --max-old-space-size=2048 "$ROOT/ops/bench.d/ws.js"
