#!/usr/bin/env bash
# pg_failover.sh BUILD_DIR: the services follow a PostgreSQL failover to a promoted standby
# (issue 13). A primary and a streaming standby (pg_basebackup -R), both on unix sockets of
# their own; the stack (ops/squall up, external PostgreSQL) gets one DSN naming both hosts
# with target_session_attrs=read-write and a database that does not exist yet (the role
# has CREATEDB: the services create it on the primary, it replicates). Then the primary is
# killed (pg_ctl stop -m immediate) and the standby promoted: within 30 s the registry
# stores an action again, auth stores a new user, and an activation accepted after the
# failover is written by the activation store into the promoted server; an activation
# accepted before it is there too.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WORK="$BUILD/test-pgfo"
STATE="$WORK/state"
BIN="$(pg_bin)"
[[ -x $BIN/initdb ]] || fail "no PostgreSQL server binaries"

stop_all() {
  [[ -d $STATE ]] && SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down --purge >/dev/null 2>&1 || true
  local d
  for d in "$WORK/p" "$WORK/s"; do
    [[ -f $d/data/postmaster.pid ]] && as_pg "$BIN/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1 || true
  done
}
cleanup() {
  local rc=$?
  stop_all
  if (( rc == 0 )); then rm -rf -- "$WORK"; else log "left $WORK for inspection"; fi
}
[[ -d $WORK ]] && { stop_all; rm -rf -- "$WORK"; }
mkdir -p "$WORK"
trap cleanup EXIT
mapfile -t PORTS < <("$SQUALL" freeport 5)
PP=${PORTS[0]} SP=${PORTS[1]}

# ---------------------------------------------------------------- primary and standby
pg_dirs "$WORK/p" "$WORK/s"
pg_initdb "$WORK/p" "$PP" "$WORK/initdb.log" 'wal_level = replica' 'hot_standby = on'
printf 'local all postgres peer\nlocal replication postgres peer\nlocal all sq_fo scram-sha-256\n' \
  | as_pg tee "$WORK/p/data/pg_hba.conf" >/dev/null
as_pg "$BIN/pg_ctl" -D "$WORK/p/data" -l "$WORK/p/log" -w start >/dev/null || fail "primary start"
PW="$(pg_role "$WORK/p/run" "$PP" sq_fo)"
as_pg "$BIN/pg_basebackup" -h "$WORK/p/run" -p "$PP" -U postgres -D "$WORK/s/data" -R -X stream \
  >"$WORK/basebackup.log" 2>&1 || { cat "$WORK/basebackup.log" >&2; fail "pg_basebackup"; }
as_pg tee -a "$WORK/s/data/postgresql.conf" >/dev/null <<CONF
port = $SP
unix_socket_directories = '$WORK/s/run'
CONF
as_pg "$BIN/pg_ctl" -D "$WORK/s/data" -l "$WORK/s/log" -w start >/dev/null || fail "standby start"
[[ "$(as_pg "$BIN/psql" -h "$WORK/s/run" -p "$SP" -U postgres -d postgres -XqAt -c 'SELECT pg_is_in_recovery()')" == t ]] \
  || fail "the standby is not in recovery"
( umask 077; printf '*:*:*:sq_fo:%s\n' "$PW" >"$WORK/pgpass" )
DSN="host=$WORK/p/run,$WORK/s/run port=$PP,$SP dbname=squall_fo user=sq_fo passfile=$WORK/pgpass target_session_attrs=read-write connect_timeout=3"
log "primary :$PP, standby :$SP (streaming)"

# ---------------------------------------------------------------- the stack
SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" SQ_NO_INSTALL=1 SQ_NO_BUILD=1 SQ_NATS_PORT="${PORTS[2]}" \
  SQ_GATEWAY_PORT="${PORTS[3]}" SQ_PG_PORT="${PORTS[4]}" SQ_PG_DSN="$DSN" SQ_ACT_ACK_WAIT_MS=3000 \
  "$SQUALL" up >"$WORK/up.log" 2>&1 || { tail -n 30 "$WORK/up.log" >&2; fail "ops/squall up"; }
. "$STATE/env"
AUTH="Authorization: Basic $(printf %s "$SQ_GUEST_KEY" | base64 -w0)"
API="$SQ_API_HOST/api/v1/namespaces/_"
psql_s() { as_pg "$BIN/psql" -h "$WORK/s/run" -p "$SP" -U postgres -d squall_fo -XqAt -c "$1"; }
put_action() { # NAME -> http code
  curl -s -o "$WORK/put.json" -w '%{http_code}' -X PUT -H "$AUTH" -H 'Content-Type: application/json' \
    "$API/actions/$1?overwrite=true" -d '{"exec":{"kind":"nodejs:20","code":"function main(a){return {n: a.n}}"}}'
}
invoke_nb() { # -> activation id
  curl -s -X POST -H "$AUTH" -H 'Content-Type: application/json' "$API/actions/fo" -d '{"n":1}' \
    | sed -n 's/.*"activationId":"\([0-9a-f]\{32\}\)".*/\1/p'
}
record_on_standby() { # ID SECS: the record is in the (promoted) standby within SECS
  local i
  for (( i = 0; i < $2 * 5; i++ )); do
    [[ "$(psql_s "SELECT count(*) FROM activations WHERE id = '$1'" 2>/dev/null)" == 1 ]] && return 0
    sleep 0.2
  done
  return 1
}
[[ $(put_action fo) == 200 ]] || fail "PUT action: $(cat "$WORK/put.json")"
out="$(curl -s -w ' %{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' "$API/actions/fo?blocking=true&result=true" -d '{"n":7}')"
[[ $out == '{"n":7} 200' ]] || fail "blocking invoke: $out"
BEFORE="$(invoke_nb)"
[[ -n $BEFORE ]] || fail "no activation id before the failover"
record_on_standby "$BEFORE" 20 || fail "the record $BEFORE did not replicate to the standby"
log "stack up on the primary; database squall_fo created and replicated"

# ---------------------------------------------------------------- failover
log "killing the primary (pg_ctl stop -m immediate), promoting the standby"
as_pg "$BIN/pg_ctl" -D "$WORK/p/data" -m immediate -w stop >/dev/null || fail "stop primary"
T0=$(date +%s%N)
as_pg "$BIN/pg_ctl" -D "$WORK/s/data" -w promote >/dev/null || fail "promote"
ok=0
for (( i = 0; i < 150; i++ )); do
  if [[ $(put_action fo2) == 200 ]]; then ok=1; break; fi
  sleep 0.2
done
(( ok )) || fail "the registry does not store an action 30 s after the failover: $(cat "$WORK/put.json")"
log "registry writes again $(( ($(date +%s%N) - T0) / 1000000 )) ms after the promotion"
[[ "$(psql_s "SELECT count(*) FROM registry_actions WHERE name = 'fo2'")" == 1 ]] || fail "action fo2 is not in the promoted server"
ok=0
for (( i = 0; i < 150; i++ )); do
  if "$SQ_BUILD_DIR/ops/squall-admin" --url "$SQ_NATS_URL" --token "$SQ_ADMIN_TOKEN" user create fouser >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
(( ok )) || fail "auth does not store a user 30 s after the failover"
[[ "$(psql_s "SELECT count(*) FROM auth_subjects WHERE name = 'fouser'")" == 1 ]] || fail "user fouser is not in the promoted server"
AFTER="$(invoke_nb)"
[[ -n $AFTER ]] || fail "no activation id after the failover"
record_on_standby "$AFTER" 40 || fail "the record $AFTER accepted after the failover is not in the promoted server"
record_on_standby "$BEFORE" 1 || fail "the record $BEFORE is gone"
out="$("$SQ_BUILD_DIR/ops/squall-health" --url "$SQ_NATS_URL" auth registry activations 2>&1)" || fail "health after the failover: $out"
grep -qF "$PW" "$STATE"/logs/*.log && fail "the PostgreSQL password is in a log"
# stopped (leak reports come at exit), the services' logs have no sanitizer finding
SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down >/dev/null 2>&1 || fail "ops/squall down"
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/logs/*.log >&2; then
  fail "sanitizer findings in the logs above"
fi
log "ok: registry, auth and the activation store follow the failover"
