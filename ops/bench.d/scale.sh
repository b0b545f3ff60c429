#!/usr/bin/env bash
# How cost grows with the work (issue 14's second table). Skipped unless SQ_BENCH_SCALE=1: it
# bulk-loads ten million records and takes well over five minutes. Rows, each beside the
# figure at a small scale measured in the same run (SQ_BENCH_SCALE_ROWS picks some of
# "records actions warm nonblocking"):
#   records     activation get / list (limit 30, name filter) / count (name filter) with
#               SQ_BENCH_SCALE_RECORDS (10 000 000) stored vs 10 000. The records are
#               bulk-loaded with SQL into the activation store's own tables (one partition per
#               past day of the retention, built apart, indexed, then attached, and the
#               per-day counts), each a copy of a real record of the bench's action with its
#               id, name and times replaced: the same bytes a real record has.
#   actions     GET action and warm invoke with SQ_BENCH_SCALE_ACTIONS (100 000) actions in
#               SQ_BENCH_SCALE_NAMESPACES (1 000) namespaces, loaded with SQL into the
#               registry's table (copies of the bench action's row), vs the 10 of before.
#   warm        warm invokes spread over SQ_BENCH_SCALE_WARM (500) distinct warm actions vs one
#               hot action; the invoker's RSS per container (needs SQ_INVOKER_MEMORY_MB large
#               enough for them all: ops/bench.sh raises it with SQ_BENCH_SCALE=1).
#   nonblocking non-blocking invokes at SQ_BENCH_SCALE_RATE (5 000/s) for
#               SQ_BENCH_SCALE_SECONDS (600): the lag of the records at the end, PostgreSQL's
#               size and the partitions' upkeep.
# Prints markdown rows (ops/bench.sh's four columns). Cleans up what it loaded.
set -euo pipefail
: "${API:?run through ops/bench.sh}" "${AUTH:?}" "${STATE:?}" "${ROOT:?}" "${BUILD:?}"
if [[ ${SQ_BENCH_SCALE:-} != 1 ]]; then
  printf 'bench: scale: skipped (set SQ_BENCH_SCALE=1: takes more than five minutes)\n' >&2
  exit 0
fi
RECORDS="${SQ_BENCH_SCALE_RECORDS:-10000000}"
ACTIONS="${SQ_BENCH_SCALE_ACTIONS:-100000}"
NSPACES="${SQ_BENCH_SCALE_NAMESPACES:-1000}"
WARM="${SQ_BENCH_SCALE_WARM:-500}"
RATE="${SQ_BENCH_SCALE_RATE:-5000}"
NB_SECS="${SQ_BENCH_SCALE_SECONDS:-600}"
ROWS="${SQ_BENCH_SCALE_ROWS:-records actions warm nonblocking}"
SECS="${SECONDS_RUN:-10}"
# shellcheck disable=SC1091
source "$STATE/env"
PSQL=(env PGOPTIONS="-c client_min_messages=warning" psql "$SQ_PG_ADMIN_DSN" -X -q -v ON_ERROR_STOP=1 -At)
log() { printf 'bench: scale: %s\n' "$*" >&2; }
wanted() { [[ " $ROWS " == *" $1 "* ]]; }

# shellcheck source=ops/bench.d/lib.sh
source "$ROOT/ops/bench.d/lib.sh"
# "" when wrk saw only 2xx answers, else what it reported (the figure is then flagged)
errs() { echo "$1" | awk '/Non-2xx|Socket errors/' | tr '\n' ' '; }
# "ok" when a is within pct % of b, else "MISSED"
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { print (b > 0 && a <= b * (1 + p / 100)) ? "ok" : "MISSED" }'; }

# ops/bench.sh's: the key, and a POST {"n":1} with it
LUA_AUTH="$STATE/get.lua" LUA_POST="$STATE/post.lua"
[[ -s $LUA_AUTH && -s $LUA_POST ]] || { log "no $LUA_AUTH or $LUA_POST: run through ops/bench.sh"; exit 1; }
# rand_lua FILE [BODY]: a GET (with BODY, a POST of it) of a path picked at random from FILE,
# one a line
rand_lua() {
  wrk_lua "${@:2}"
  cat <<LUAEOF
local paths = {}
for l in io.lines("$1") do paths[#paths + 1] = l end
math.randomseed(os.time())
request = function() return wrk.format(wrk.method, paths[math.random(#paths)]) end
LUAEOF
}
run_wrk() { wrk -t1 -c1 -d"${SECS}s" --latency "$@"; }

# the rows' code, apart (ops/bench.sh runs only the top level's *.sh)
# shellcheck source=ops/bench.d/scale/records.sh
source "$ROOT/ops/bench.d/scale/records.sh"
# shellcheck source=ops/bench.d/scale/load.sh
source "$ROOT/ops/bench.d/scale/load.sh"

wanted records && records_rows
wanted actions && actions_rows
wanted warm && warm_rows
wanted nonblocking && nonblocking_rows
exit 0
