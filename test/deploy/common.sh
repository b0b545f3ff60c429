# shellcheck shell=bash disable=SC2034
# common.sh: sourced first by every test/deploy script (`. "$(dirname "$0")/common.sh"`,
# with the script's own arguments). Sets ROOT (the source tree), BUILD (SQ_BUILD_DIR or the
# first argument), SQUALL (ops/squall) and NAME (the script's file name); defines fail and
# log (prefixed with NAME) and the PostgreSQL helpers the scripts that make clusters of
# their own share.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME="$(basename "$0")"
BUILD="$(realpath -m -- "${SQ_BUILD_DIR:-${1:?usage: $NAME BUILD_DIR}}")"
SQUALL="$ROOT/ops/squall"

fail() { printf '%s: FAIL: %s\n' "$NAME" "$*" >&2; exit 1; }
log()  { printf '%s: %s\n' "$NAME" "$*" >&2; }

# The newest PostgreSQL server's bin directory; a command run as postgres when we are root.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if (( EUID == 0 )); then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }

# pg_dirs DIR...: each DIR (made, mode 0700) for a cluster of the test; as root, owned by
# postgres, and DIR's parents searchable by postgres (o+x where it could not pass).
pg_dirs() {
  local d
  for d in "$@"; do mkdir -p "$d/run"; chmod 700 "$d"; done
  (( EUID == 0 )) || return 0
  chown -R postgres: "$@"
  for d in "$@"; do
    while [[ $d != / ]]; do d="$(dirname "$d")"; runuser -u postgres -- test -x "$d" || chmod o+x "$d"; done
  done
}

# pg_initdb DIR PORT LOG [SETTING...]: a new cluster in DIR/data, local peer authentication
# for postgres only (pg_hba.conf is the caller's), initdb's output in LOG shown on failure.
# It listens on no TCP address, on the unix socket of PORT in DIR/run, stores passwords as
# SCRAM, and takes each SETTING (a postgresql.conf line, e.g. 'wal_level = replica').
pg_initdb() {
  local dir=$1 port=$2 initlog=$3
  shift 3
  as_pg "$(pg_bin)/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=reject -E UTF8 --locale=C \
    >"$initlog" 2>&1 || { cat "$initlog" >&2; fail "initdb"; }
  printf '%s\n' "listen_addresses = ''" "port = $port" "unix_socket_directories = '$dir/run'" \
    "password_encryption = 'scram-sha-256'" "$@" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# pg_role SOCKET_DIR PORT ROLE: creates ROLE (LOGIN CREATEDB) with a new random password,
# printed on stdout (never logged).
pg_role() {
  local pw
  pw="$(head -c 64 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c 24)"
  printf "CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s';\n" "$3" "$pw" \
    | as_pg "$(pg_bin)/psql" -h "$1" -p "$2" -U postgres -d postgres -XqAt -v ON_ERROR_STOP=1 >/dev/null
  printf '%s\n' "$pw"
}
