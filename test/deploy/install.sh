#!/usr/bin/env bash
# install.sh BUILD_DIR: the installed tree works without the source tree (issue 13).
#
#  1. `cmake --install BUILD --prefix <tmp>/usr`, and the FHS layout is what ops/install.cmake
#     says (binaries, runtimes, schemas, system packages, units, sample confs).
#  2. The systemd units pass `systemd-analyze verify` without a word (when it is installed),
#     their ExecStart pointed at the installed binaries.
#  3. A throw-away stack runs the INSTALLED services (ops/squall up, SQ_SBIN_DIR) against an
#     "external" PostgreSQL cluster the test makes (initdb, a role with CREATEDB, password
#     auth): ops/squall starts no cluster of its own; the DSN names a dead host first
#     (libpq multi-host, target_session_attrs=read-write) and a database that does not exist,
#     which the services create. Each installed service logs the installed paths it resolved
#     (schemas, system packages, runtimes, native launcher), the registry installs
#     /whisk.system/utils from the installed share dir, and invoking /whisk.system/utils/echo
#     runs through the installed runtimes.
#  4. A config file with SQ_* keys (SQ_CONFIG) is read: the invoker's id comes from it.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WORK="$BUILD/test-deploy"
PREFIX="$WORK/usr"
STATE="$WORK/state"
PGD="$WORK/pg"

cleanup() {
  local rc=$?
  if [[ -d $STATE ]]; then
    SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down --purge >/dev/null 2>&1 || true
  fi
  if [[ -f $PGD/data/postmaster.pid ]]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if (( rc == 0 )); then rm -rf -- "$WORK"; else log "left $WORK for inspection"; fi
}

# ---------------------------------------------------------------- 1. install
if [[ -d $WORK ]]; then
  [[ -d $STATE ]] && SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down --purge >/dev/null 2>&1 || true
  [[ -f $PGD/data/postmaster.pid ]] && as_pg "$(pg_bin)/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf -- "$WORK"
fi
mkdir -p "$WORK"
trap cleanup EXIT
log "cmake --install $BUILD --prefix $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "cmake --install failed"; }

SVCS=(gateway auth registry scheduler invoker activations triggers)
want=(bin/squall-admin bin/squall-health lib/squall/squall-native-launcher
      lib/squall/runtimes/nodejs/launcher.js lib/squall/runtimes/python/launcher.py
      share/squall/pg_bootstrap.sql share/squall/schemas/nats/health.reply.schema.json
      share/squall/system/utils/echo.js share/squall/system/alarms/alarm.js share/squall/system/nats/subscribe.js
      share/doc/squall/README.md)
for s in auth registry activations; do want+=("share/squall/schemas/$s/0001_init.sql"); done
for s in "${SVCS[@]}"; do
  want+=("sbin/squall-$s" "lib/systemd/system/squall-$s.service" "share/squall/conf/$s.conf")
done
for f in "${want[@]}"; do
  [[ -e $PREFIX/$f ]] || fail "not installed: $PREFIX/$f"
done
for s in "${SVCS[@]}"; do [[ -x $PREFIX/sbin/squall-$s ]] || fail "$PREFIX/sbin/squall-$s is not executable"; done
[[ ! -e $PREFIX/lib/squall/runtimes/native ]] || fail "the native runtime's source was installed"
# every key of a sample /etc/squall/<svc>.conf is a setting of that service's config table
for s in "${SVCS[@]}"; do
  while read -r key; do
    grep -q "\"$key\"" "$ROOT"/services/"$s"/*.c || fail "share/squall/conf/$s.conf: $key is no setting of squall-$s"
  done < <(sed -n 's/^\(SQ_[A-Z0-9_]*\)[[:space:]]*=.*/\1/p' "$PREFIX/share/squall/conf/$s.conf")
done
log "layout: ${#want[@]} paths in place"

# ---------------------------------------------------------------- 2. systemd units
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$WORK/units"
  for s in "${SVCS[@]}"; do
    sed "s|^ExecStart=/usr/sbin/|ExecStart=$PREFIX/sbin/|" "$PREFIX/lib/systemd/system/squall-$s.service" \
      >"$WORK/units/squall-$s.service"
    grep -q '^User=squall$' "$WORK/units/squall-$s.service" || fail "squall-$s.service: not User=squall"
    grep -q '^ProtectSystem=strict$' "$WORK/units/squall-$s.service" || fail "squall-$s.service: no ProtectSystem=strict"
    grep -q '^NoNewPrivileges=yes$' "$WORK/units/squall-$s.service" || fail "squall-$s.service: no NoNewPrivileges"
    grep -q "^Environment=SQ_CONFIG=/etc/squall/$s.conf$" "$WORK/units/squall-$s.service" || fail "squall-$s.service: no SQ_CONFIG"
  done
  out="$(systemd-analyze verify "$WORK"/units/*.service 2>&1)" || fail "systemd-analyze verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify complained: $out"
  log "systemd-analyze verify: 7 units clean"
  # exposure (0 safe .. 10 unsafe, --threshold in tenths): the services at most 2.0, the
  # invoker (bwrap needs namespaces, mounts, cgroups, no seccomp of its own) at most 5.0
  for s in "${SVCS[@]}"; do
    t=20; [[ $s == invoker ]] && t=50
    systemd-analyze security --offline=yes --threshold=$t "$WORK/units/squall-$s.service" >"$WORK/security-$s.txt" 2>&1 \
      || fail "squall-$s.service: exposure above $((t / 10)).$((t % 10)): $(tail -n 1 "$WORK/security-$s.txt")"
    log "$(tail -n 1 "$WORK/security-$s.txt" | sed 's/^→ //')"
  done
else
  log "no systemd-analyze: units not verified"
fi

# ---------------------------------------------------------------- 3. an external PostgreSQL
BIN="$(pg_bin)"
[[ -x $BIN/initdb ]] || fail "no PostgreSQL server binaries"
mapfile -t PORTS < <("$SQUALL" freeport 4)
PGPORT=${PORTS[0]}
pg_dirs "$PGD"
pg_initdb "$PGD" "$PGPORT" "$WORK/initdb.log"
printf 'local all postgres peer\nlocal all sq_deploy scram-sha-256\n' | as_pg tee "$PGD/data/pg_hba.conf" >/dev/null
as_pg "$BIN/pg_ctl" -D "$PGD/data" -l "$PGD/data/log" -w start >/dev/null || fail "pg_ctl start"
PW="$(pg_role "$PGD/run" "$PGPORT" sq_deploy)"
( umask 077; printf '*:*:*:sq_deploy:%s\n' "$PW" >"$WORK/pgpass" )
# a dead host first: libpq tries it, then the live one (and keeps only a writable server)
DSN="host=$WORK/nohost,$PGD/run port=$PGPORT,$PGPORT dbname=squall_deploy user=sq_deploy passfile=$WORK/pgpass target_session_attrs=read-write connect_timeout=5"

# ---------------------------------------------------------------- 4. the installed stack
cat >"$WORK/invoker.conf" <<CONF
# a file with SQ_* keys, as /etc/squall/invoker.conf
SQ_INVOKER_ID = "deploy-inv1"
CONF
log "starting the installed services (NATS :${PORTS[1]}, gateway :${PORTS[2]}, external PostgreSQL :$PGPORT)"
env -u SQ_SCHEMA_DIR -u SQ_SYSTEM_DIR -u SQ_RUNTIME_DIR -u SQ_INVOKER_NATIVE_LAUNCHER -u SQ_INVOKER_ID \
  SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" SQ_SBIN_DIR="$PREFIX/sbin" SQ_NO_INSTALL=1 SQ_NO_BUILD=1 \
  SQ_NATS_PORT="${PORTS[1]}" SQ_GATEWAY_PORT="${PORTS[2]}" SQ_PG_PORT="${PORTS[3]}" SQ_PG_DSN="$DSN" \
  SQ_CONFIG="$WORK/invoker.conf" \
  "$SQUALL" up >"$WORK/up.log" 2>&1 || { tail -n 40 "$WORK/up.log" >&2; tail -n 20 "$STATE"/logs/*.log >&2 || true; fail "ops/squall up"; }
[[ ! -e $STATE/pg ]] || fail "ops/squall made a PostgreSQL cluster although one was given"
grep -q 'PostgreSQL: external' "$WORK/up.log" || fail "ops/squall did not say the PostgreSQL is external"

# the running services are the installed binaries
for s in "${SVCS[@]}"; do
  pid="$(cat "$STATE/pids/$s.pid")"
  exe="$(readlink "/proc/$pid/exe")"
  [[ $exe == "$PREFIX/sbin/squall-$s" ]] || fail "$s runs $exe, not the installed binary"
done
L="$STATE/logs"
expect_log() { grep -qF -- "$2" "$L/$1.log" || fail "$1.log lacks: $2"; }
for s in auth registry activations; do expect_log "$s" "config schema_dir = \"$PREFIX/share/squall/schemas\""; done
expect_log registry "config system_dir = \"$PREFIX/share/squall/system\""
expect_log invoker "config runtime_dir = \"$PREFIX/lib/squall/runtimes\""
expect_log invoker "config native_launcher = \"$PREFIX/lib/squall/squall-native-launcher\""
expect_log invoker 'config id = "deploy-inv1"'
grep -qE "\"$ROOT/(schemas|services)" "$L"/{auth,registry,activations,invoker}.log && fail "a service resolved a path into the source tree $ROOT"
grep -hq 'created database "squall_deploy"' "$L"/{auth,registry,activations}.log || fail "nobody created the missing database"
grep -qF "$PW" "$L"/*.log && fail "the PostgreSQL password is in a log"
log "installed paths resolved; database created by a service"

# /whisk.system/utils from the installed system dir, run through the installed runtimes
. "$STATE/env"
AUTH="Authorization: Basic $(printf %s "$SQ_GUEST_KEY" | base64 -w0)"
API="$SQ_API_HOST/api/v1/namespaces"
code="$(curl -s -o "$WORK/pkg.json" -w '%{http_code}' -H "$AUTH" "$API/whisk.system/packages/utils")"
[[ $code == 200 ]] || fail "GET /whisk.system/packages/utils: $code $(cat "$WORK/pkg.json")"
grep -q '"echo"' "$WORK/pkg.json" || fail "utils has no echo: $(cat "$WORK/pkg.json")"
out="$(curl -s -w ' %{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' \
  "$API/whisk.system/actions/utils/echo?blocking=true&result=true" -d '{"installed":"yes"}')"
[[ $out == '{"installed":"yes"} 200' ]] || fail "invoke /whisk.system/utils/echo: $out"
for i in $(seq 1 50); do
  out="$(curl -s -w ' %{http_code}' "$SQ_API_HOST/readyz")"
  [[ $out == *' 200' ]] && break
  sleep 0.2
done
[[ $out == *' 200' ]] || fail "readyz: $out"
log "/whisk.system/utils/echo answered through the installed stack; /readyz 200"

# stopped (leak reports come at exit), the services' logs have no sanitizer finding
SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down >/dev/null 2>&1 || fail "ops/squall down"
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/logs/*.log >&2; then
  fail "sanitizer findings in the logs above"
fi
SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" "$SQUALL" down --purge >/dev/null 2>&1 || fail "ops/squall down"
[[ -f $PGD/data/postmaster.pid ]] || fail "ops/squall down stopped the external PostgreSQL"
log "ok"
