// creds.js DIR: an operator, an account and users for nats-server's operator (JWT) mode, made
// here with the nkeys of the nats package (no nsc): DIR/operator.jwt, DIR/resolver.conf (the
// memory resolver's preload of the account), the .creds files DIR/user.creds (a user of the
// account), DIR/stranger.creds (a user of an account the server does not know) and
// DIR/mismatch.creds (the user's JWT with another user's seed), and DIR/seeds (every seed
// made, one a line: the test searches the logs for them).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { nkeys } = require('nats');

const dir = process.argv[2];
const b64url = (b) => Buffer.from(b).toString('base64url');
const text = (u8) => Buffer.from(u8).toString('utf8');

// base32 (RFC 4648, no padding) of the claims' SHA-256, as the jwt library names a JWT (jti)
function base32(buf) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, val = 0, out = '';
  for (const byte of buf) {
    val = (val << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += abc[(val >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += abc[(val << (5 - bits)) & 31];
  return out;
}

// a JWT (v2) of `sub` with `nats` claims, signed by the key pair `issuer`
function jwt(issuer, sub, name, nats) {
  const claims = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub, nats };
  claims.jti = base32(crypto.createHash('sha256').update(JSON.stringify(claims)).digest());
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${b64url(issuer.sign(Buffer.from(`${head}.${body}`)))}`;
}

const unlimited = { subs: -1, data: -1, payload: -1 };
function account(operator, name) {
  const kp = nkeys.createAccount();
  const limits = { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  return { kp, jwt: jwt(operator, kp.getPublicKey(), name, { limits, type: 'account', version: 2 }) };
}
function user(acct, name) {
  const kp = nkeys.createUser();
  return { kp, jwt: jwt(acct, kp.getPublicKey(), name, { pub: {}, sub: {}, ...unlimited, type: 'user', version: 2 }) };
}
function creds(file, userJwt, seed) {
  const body = `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
  fs.writeFileSync(path.join(dir, file), body, { mode: 0o600 });
}

const operator = nkeys.createOperator();
const opJwt = jwt(operator, operator.getPublicKey(), 'squall-test-operator', { type: 'operator', version: 2 });
const acct = account(operator, 'SQUALL');
const other = account(nkeys.createOperator(), 'STRANGER'); // signed by an operator nobody trusts
const gw = user(acct.kp, 'gateway');
const second = user(acct.kp, 'second');
const stranger = user(other.kp, 'stranger');

fs.writeFileSync(path.join(dir, 'operator.jwt'), `${opJwt}\n`);
fs.writeFileSync(path.join(dir, 'resolver.conf'),
  `resolver: MEMORY\nresolver_preload: {\n  ${acct.kp.getPublicKey()}: "${acct.jwt}"\n}\n`);
creds('user.creds', gw.jwt, text(gw.kp.getSeed()));
creds('stranger.creds', stranger.jwt, text(stranger.kp.getSeed()));
creds('mismatch.creds', gw.jwt, text(second.kp.getSeed()));
const seeds = [operator, acct.kp, other.kp, gw.kp, second.kp, stranger.kp].map((k) => text(k.getSeed()));
fs.writeFileSync(path.join(dir, 'seeds'), `${seeds.join('\n')}\n`, { mode: 0o600 });
