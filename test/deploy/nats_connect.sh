#!/usr/bin/env bash
# nats_connect.sh BUILD_DIR: a service reaches NATS every way an operator may set it up
# (issue 13). Private nats-servers on loopback, certificates made here with openssl:
#   A  TLS with client certificates required (verify), users by password and by nkey
#   B  plain, token authorization
#   C  operator (JWT) mode with the memory resolver: an operator, an account and users made
#      here (test/deploy/creds.js, the nkeys of the nats package)
# The gateway (it needs nothing but NATS to answer /healthz) is started against them:
#   1 user/password (SQ_NATS_USER/SQ_NATS_PASS) over TLS with the CA and a client certificate
#   2 nkey seed file (SQ_NATS_NKEY) over TLS
#   3 token (SQ_NATS_TOKEN), the URL a comma-separated list whose first seed is dead
#   4 the user and password in the URL, on a list of two seeds
#   5 a .creds file (SQ_NATS_CREDS: the user's JWT and nkey seed)
# and must answer /healthz; a wrong token, a missing client certificate, a wrong password, a
# .creds of an account the server does not trust and one whose seed is not its JWT's must each
# be refused (the service exits: could not connect). Every log is then searched for every
# secret (passwords, the token, the nkey seeds, the private keys).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WORK="$BUILD/test-natsconn"
GW="$BUILD/services/gateway/squall-gateway"
NKEY="$BUILD/ops/squall-nkey"
PIDS=()

cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if (( rc == 0 )); then rm -rf -- "$WORK"; else log "left $WORK for inspection"; fi
}
[[ -x $GW && -x $NKEY ]] || fail "build first: no $GW or $NKEY"
command -v nats-server >/dev/null && command -v openssl >/dev/null || fail "needs nats-server and openssl"
rm -rf -- "$WORK"; mkdir -p "$WORK"; chmod 700 "$WORK"
trap cleanup EXIT
cd "$WORK"

read -r PA PB PC PDEAD GP <<<"$("$ROOT/ops/free-port" 5 | tr '\n' ' ')"

# ---- certificates: a CA, the server's (127.0.0.1), a client's
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=squall test CA" \
  -keyout ca.key -out ca.pem >/dev/null 2>&1
cert() { # name subject-alt-name-line
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" >/dev/null 2>&1
  printf '%s\n' "$2" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem" >/dev/null 2>&1
}
cert server "subjectAltName=IP:127.0.0.1"
cert client "extendedKeyUsage=clientAuth"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=stranger" \
  -keyout other.key -out other.pem >/dev/null 2>&1

# ---- secrets
PASS="pw$(openssl rand -hex 16)"
TOKEN="tk$(openssl rand -hex 20)"
PUB="$("$NKEY" gen "$WORK/user.nk")"
[[ $PUB =~ ^U[A-Z2-7]{55}$ ]] || fail "squall-nkey printed no public key: $PUB"
[[ $("$NKEY" pub "$WORK/user.nk") == "$PUB" ]] || fail "squall-nkey pub disagrees with gen"
[[ $(stat -c %a "$WORK/user.nk") == 600 ]] || fail "the seed file is not 0600"
SEED="$(head -n 1 user.nk)"

cat >a.conf <<CONF
listen: 127.0.0.1:$PA
tls { cert_file: "$WORK/server.pem", key_file: "$WORK/server.key", ca_file: "$WORK/ca.pem", verify: true }
authorization { users = [ { user: gwuser, password: "$PASS" }, { nkey: $PUB } ] }
CONF
cat >b.conf <<CONF
listen: 127.0.0.1:$PB
authorization { token: "$TOKEN" }
CONF
NODE_PATH="$ROOT/test/e2e/node_modules" node "$ROOT/test/deploy/creds.js" "$WORK" ||
  fail "could not make the operator, account and users (test/e2e/node_modules: npm install?)"
(( $(grep -cE '^S[OAU][A-Z2-7]{56}$' seeds) == 6 )) || fail "creds.js wrote no 6 seeds"
cat >c.conf <<CONF
listen: 127.0.0.1:$PC
operator: "$WORK/operator.jwt"
include "resolver.conf"
CONF
nats-server -c a.conf >nats-a.log 2>&1 & PIDS+=($!)
nats-server -c b.conf >nats-b.log 2>&1 & PIDS+=($!)
nats-server -c c.conf >nats-c.log 2>&1 & PIDS+=($!)
for p in $PA $PB $PC; do
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done

# run_gw NAME expect(ok|refused) VAR=VALUE...: the gateway with only these NATS settings
run_gw() {
  local name=$1 want=$2 pid code="" i; shift 2
  env -i PATH="$PATH" HOME="$WORK" SQ_GATEWAY_PORT="$GP" SQ_GATEWAY_HOST=127.0.0.1 \
    SQ_GATEWAY_READY_MS=60000 ASAN_OPTIONS=detect_leaks=0 "$@" "$GW" >"gw-$name.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for i in $(seq 150); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$GP/healthz" || true)"
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  if [[ $want == ok ]]; then
    [[ $code == 200 ]] || { tail -n 5 "gw-$name.log" >&2; fail "$name: no /healthz 200 (got '$code')"; }
    grep -q 'connected to NATS at' "gw-$name.log" || fail "$name: no connect line"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    log "$name: connected: $(grep -o 'connected to NATS at.*' "gw-$name.log" | head -n 1)"
  else
    # refused: the service gives up (within ~10 s) and exits non-zero
    for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "$name: still running, expected a refusal"; fi
    if wait "$pid"; then fail "$name: exited 0, expected a refusal"; fi
    [[ $code != 200 ]] || fail "$name: answered /healthz, expected a refusal"
    grep -qE 'could not (connect to NATS|read a user nkey seed)' "gw-$name.log" ||
      fail "$name: no 'could not connect' line"
    log "$name: refused as it must be"
  fi
}

TLS=(SQ_NATS_TLS_CA="$WORK/ca.pem" SQ_NATS_TLS_CERT="$WORK/client.pem" SQ_NATS_TLS_KEY="$WORK/client.key")
run_gw userpass_tls ok SQ_NATS_URL="tls://127.0.0.1:$PA" SQ_NATS_USER=gwuser SQ_NATS_PASS="$PASS" "${TLS[@]}"
run_gw nkey_tls ok SQ_NATS_URL="nats://127.0.0.1:$PA" SQ_NATS_NKEY="$WORK/user.nk" "${TLS[@]}"
run_gw token_list ok SQ_NATS_URL="nats://127.0.0.1:$PDEAD, nats://127.0.0.1:$PB" SQ_NATS_TOKEN="$TOKEN"
run_gw url_userpass_list ok \
  SQ_NATS_URL="tls://gwuser:$PASS@127.0.0.1:$PDEAD,tls://gwuser:$PASS@127.0.0.1:$PA" "${TLS[@]}"
run_gw creds ok SQ_NATS_URL="nats://127.0.0.1:$PC" SQ_NATS_CREDS="$WORK/user.creds"
grep -q 'with credentials ' gw-creds.log || fail "creds: the connect line names no credentials file"
run_gw bad_token refused SQ_NATS_URL="nats://127.0.0.1:$PB" SQ_NATS_TOKEN="${TOKEN}x"
run_gw no_client_cert refused SQ_NATS_URL="nats://127.0.0.1:$PA" SQ_NATS_USER=gwuser \
  SQ_NATS_PASS="$PASS" SQ_NATS_TLS_CA="$WORK/ca.pem"
run_gw bad_password refused SQ_NATS_URL="nats://127.0.0.1:$PA" SQ_NATS_USER=gwuser \
  SQ_NATS_PASS="${PASS}x" "${TLS[@]}"
run_gw bad_nkey_file refused SQ_NATS_URL="nats://127.0.0.1:$PA" SQ_NATS_NKEY="$WORK/ca.pem" "${TLS[@]}"
run_gw creds_untrusted refused SQ_NATS_URL="nats://127.0.0.1:$PC" SQ_NATS_CREDS="$WORK/stranger.creds"
run_gw creds_mismatch refused SQ_NATS_URL="nats://127.0.0.1:$PC" SQ_NATS_CREDS="$WORK/mismatch.creds"
run_gw creds_missing refused SQ_NATS_URL="nats://127.0.0.1:$PC" SQ_NATS_CREDS="$WORK/none.creds"

# ---- no secret in any log line (service logs and the servers')
n=0
for s in "$PASS" "${PASS}x" "$TOKEN" "${TOKEN}x" "$SEED" \
         "$(sed -n 2p client.key)" "$(sed -n 2p server.key)" $(cat seeds); do
  if grep -lF -- "$s" ./*.log >/dev/null 2>&1; then
    log "a secret in: $(grep -lF -- "$s" ./*.log | tr '\n' ' ')"; n=$((n + 1))
  fi
done
(( n == 0 )) || fail "$n secrets found in the logs"
log "no secret in $(ls ./*.log | wc -l) logs"
log "PASS"
