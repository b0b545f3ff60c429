#!/usr/bin/env bash
# stack.sh up|down STATE_DIR [BUILD_DIR]: the CTest fixture that gives the integration and
# e2e tests one private stack for the whole run.
#
#   up    stops and purges whatever an earlier run left in STATE_DIR, picks free ports, and
#         starts NATS, PostgreSQL and every service with the launcher (ops/squall up, no
#         package installation, no build: the tests run against the binaries of BUILD_DIR);
#         the launcher writes STATE_DIR/env (SQ_NATS_URL, SQ_GUEST_KEY, SQ_GATEWAY_PORT...),
#         which the tests read through SQ_TEST_ENV.
#   down  reports sanitizer findings in the service logs (and fails on them), fails when any
#         log of the run holds a secret of the stack (NATS passwords, the admin token, the
#         guest key), keeps a copy of the logs in STATE_DIR-logs, then runs ops/squall down
#         --purge.
#
# BUILD_DIR: $SQ_BUILD_DIR when set (ops/squall test sets it), else the argument (CTest
# passes its build tree).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SQUALL="$ROOT/ops/squall"

# The services of this slice; a missing binary is an error, not a skipped service.
REQUIRED=(gateway auth registry scheduler invoker activations triggers)

die() { printf 'stack.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'stack.sh: %s\n' "$*" >&2; }

cmd=${1:-}
STATE=${2:-}
[[ -n $cmd && -n $STATE ]] || die "usage: stack.sh up|down STATE_DIR [BUILD_DIR]"
BUILD=${SQ_BUILD_DIR:-${3:-}}
[[ -n $BUILD ]] || die "no build dir: set SQ_BUILD_DIR or pass BUILD_DIR"
BUILD="$(realpath -m -- "$BUILD")"
STATE="$(realpath -m -- "$STATE")"
case $STATE in
  /|/tmp|/work|"$ROOT"|"$HOME") die "refusing to use $STATE as a throw-away state dir" ;;
esac

launcher() { SQ_STATE_DIR="$STATE" SQ_BUILD_DIR="$BUILD" SQ_NO_INSTALL=1 SQ_NO_BUILD=1 "$SQUALL" "$@"; }

dump_logs() {
  local f
  shopt -s nullglob
  for f in "$STATE"/logs/*.log; do
    printf '\n----- %s (last 40 lines)\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
  done
}

# Sanitizer reports in the service logs: printed, and counted in the exit status.
sanitizer_findings() {
  local f found=0
  shopt -s nullglob
  for f in "$STATE"/logs/*.log; do
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
      found=1
      printf '\n----- sanitizer findings in %s\n' "$f" >&2
      grep -nE -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 80 >&2
    fi
  done
  return $found
}

# The secrets of the stack in the state dir, one a line: the NATS users' passwords, the
# admin token, the guest key's secret, and the first line of any other *.password, *.secret
# or *.token file (PostgreSQL's, say); the NATS credentials given by environment
# (SQ_NATS_PASS, SQ_NATS_TOKEN) and the seed of any nkey or .creds file (*.nk, *.creds).
stack_secrets() {
  local f
  if [[ -n ${SQ_NATS_PASS:-} ]]; then printf '%s\n' "$SQ_NATS_PASS"; fi
  if [[ -n ${SQ_NATS_TOKEN:-} ]]; then printf '%s\n' "$SQ_NATS_TOKEN"; fi
  while IFS= read -r -d '' f; do
    grep -oE 'S[A-Z][A-Z2-7]{56}' "$f" || true
  done < <(find "$STATE" -path "$STATE/logs" -prune -o -type f \( -name '*.nk' -o -name '*.creds' \) \
             -print0 2>/dev/null)
  if [[ -f $STATE/nats/users ]]; then awk 'NF >= 2 {print $2}' "$STATE/nats/users"; fi
  if [[ -f $STATE/guest.key ]]; then head -n 1 "$STATE/guest.key" | cut -d: -f2; fi
  while IFS= read -r -d '' f; do
    head -n 1 "$f"
  done < <(find "$STATE" -path "$STATE/logs" -prune -o -path "$STATE/pg/data" -prune -o -type f \
             \( -name '*.password' -o -name '*.secret' -o -name '*.token' \) -print0 2>/dev/null)
}

# A secret in any log of the run (every file below STATE/logs, symlinks followed): the file,
# the line number and which secret are printed (never the secret), and counted in the exit
# status. Secrets shorter than 8 characters are not looked for (they would match anything).
secret_findings() {
  local list found=0 f line
  list="$(mktemp)"
  stack_secrets | awk 'length($0) >= 8' | sort -u >"$list"
  if [[ ! -s $list ]]; then
    rm -f "$list"
    # a stack that came up (it wrote env) has secrets: not finding them is a bug here
    log "no secrets found in $STATE to look for in the logs"
    [[ ! -f $STATE/env ]]
    return
  fi
  while IFS= read -r -d '' f; do
    while IFS= read -r line; do
      found=1
      printf 'stack.sh: a secret of the stack in %s line %s\n' "$f" "$line" >&2
    done < <(grep -naFf "$list" "$f" 2>/dev/null | cut -d: -f1 | head -n 20)
  done < <(find -L "$STATE/logs" -type f -print0 2>/dev/null)
  log "looked for $(wc -l <"$list") secrets in the logs of $STATE/logs"
  rm -f "$list"
  return $found
}

cmd_up() {
  local missing=() svc
  for svc in "${REQUIRED[@]}"; do
    [[ -x $BUILD/services/$svc/squall-$svc ]] || missing+=("$BUILD/services/$svc/squall-$svc")
  done
  [[ -x $BUILD/ops/squall-health ]] || missing+=("$BUILD/ops/squall-health")
  if (( ${#missing[@]} )); then
    die "not built: ${missing[*]}"
  fi

  if [[ -d $STATE ]]; then
    log "removing the stack an earlier run left in $STATE"
    launcher down --purge >&2 || die "could not stop the earlier stack in $STATE"
  fi

  local ports
  mapfile -t ports < <("$SQUALL" freeport 3)
  (( ${#ports[@]} == 3 )) || die "ops/squall freeport did not give 3 ports"
  log "state $STATE, build $BUILD, NATS :${ports[0]}, PostgreSQL :${ports[1]}, gateway :${ports[2]}"

  if ! SQ_NATS_PORT=${ports[0]} SQ_PG_PORT=${ports[1]} SQ_GATEWAY_PORT=${ports[2]} \
       SQ_UP_TIMEOUT=${SQ_UP_TIMEOUT:-90} launcher up >&2; then
    dump_logs
    die "ops/squall up failed (logs above; state dir $STATE)"
  fi

  local env="$STATE/env" k
  [[ -f $env ]] || die "ops/squall up wrote no $env"
  for k in SQ_NATS_URL SQ_GUEST_KEY SQ_GATEWAY_PORT; do
    grep -q "^export $k=" "$env" || die "$env does not set $k"
  done

  # The gateway answers HTTP (the launcher only checked NATS health).
  local i code=""
  for i in $(seq 1 100); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${ports[2]}/api/v1/namespaces" || true)"
    [[ $code =~ ^[1-5][0-9][0-9]$ ]] && break
    sleep 0.1
  done
  if ! [[ $code =~ ^[1-5][0-9][0-9]$ ]]; then
    dump_logs
    die "the gateway does not answer HTTP on 127.0.0.1:${ports[2]}"
  fi
  # Every test file shares the guest namespace within a few minutes: lift its rate limits
  # (tests of the limits themselves make namespaces of their own with low ones).
  if [[ -x $BUILD/ops/squall-admin ]]; then
    # shellcheck disable=SC1090
    if ! ( source "$env" && "$BUILD/ops/squall-admin" namespace limits set guest \
             invocationsPerMinute=1000000 firesPerMinute=1000000 concurrentInvocations=10000 >/dev/null ); then
      dump_logs
      die "could not raise the guest namespace's limits with squall-admin"
    fi
  fi
  log "stack is up; environment in $env"
  cat "$env"
}

cmd_down() {
  local rc=0
  if [[ ! -d $STATE ]]; then
    log "no stack in $STATE"
    return 0
  fi
  launcher down >&2 || rc=1
  # After the services have stopped, so that leak reports at exit are in the logs too.
  if [[ -d $STATE/logs ]]; then
    rm -rf -- "$STATE-logs"
    cp -rL -- "$STATE/logs" "$STATE-logs" 2>/dev/null || true
    log "service logs kept in $STATE-logs"
    if ! sanitizer_findings; then
      log "sanitizer findings in the service logs (above)"
      rc=1
    fi
    if ! secret_findings; then
      log "secret check failed (above): a log line must never hold a secret"
      rc=1
    fi
  fi
  launcher down --purge >&2 || rc=1
  return $rc
}

case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  *) die "unknown command '$cmd' (up|down)" ;;
esac
