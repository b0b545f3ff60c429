// The gateway's access log (SQ_GATEWAY_ACCESS_LOG, on by default): one line per request in
// the gateway's log with the method, the path without its query, the status, the body bytes,
// the duration in microseconds and the request id that an error answer carries as "code";
// never the key, the Authorization header or a query argument; a path's control bytes are
// escaped (no forged log lines).
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness/squall.js');

const name = h.uniqueName('access_log');

function gatewayLog() {
  return path.join(h.stackEnv().stateDir, 'logs', 'gateway.log');
}

// The access lines written since offset `from` that match re, waiting up to 3 s for one.
async function accessLines(from, re) {
  for (let i = 0; i < 30; i++) {
    // (with SQ_LOG_FORMAT=json the line is a JSON string: its quotes come escaped)
    const text = fs.readFileSync(gatewayLog()).subarray(from).toString('utf8').replace(/\\"/g, '"');
    const lines = text.split('\n').filter((l) => /\baccess method=/.test(l) && re.test(l));
    if (lines.length > 0) return { lines, text };
    await h.sleep(100);
  }
  const tail = fs.readFileSync(gatewayLog()).subarray(from).toString('utf8').slice(-2000);
  assert.fail(`no access line matching ${re} in the gateway log; its tail:\n${tail}`);
}

function field(line, key) {
  const m = new RegExp(`\\b${key}=("[^"]*"|\\S+)`).exec(line);
  assert.ok(m, `no ${key}= in the access line ${line}`);
  return m[1].replace(/^"|"$/g, '');
}

after(async () => {
  await h.deleteAction(name).catch(() => {});
});

test('an error answer: its line carries the code, the path without the query, the bytes', async () => {
  const from = fs.statSync(gatewayLog()).size;
  const res = h.expectError(await h.api('GET', `/namespaces/_/actions/${name}_missing?code=false&secretarg=hunter2`), 404);
  const code = res.json.code;
  assert.match(String(code), /^[0-9a-f]{16}$/, `error code: ${h.show(res)}`);
  const { lines } = await accessLines(from, new RegExp(`id=${code}\\b`));
  assert.equal(lines.length, 1, `one line per request: ${lines.join('\n')}`);
  const l = lines[0];
  assert.equal(field(l, 'method'), 'GET');
  assert.equal(field(l, 'path'), `/api/v1/namespaces/_/actions/${name}_missing`);
  assert.equal(field(l, 'status'), '404');
  assert.equal(Number(field(l, 'bytes')), Buffer.byteLength(res.text), `bytes: ${l}`);
  const us = Number(field(l, 'us'));
  assert.ok(Number.isInteger(us) && us > 0 && us < 30e6, `duration ${us} us: ${l}`);
  assert.doesNotMatch(l, /hunter2|secretarg/, `a query argument in the access log: ${l}`);
});

test('a success and a refused key: a line each, and no key or Authorization in the log', async () => {
  const from = fs.statSync(gatewayLog()).size;
  await h.putAction(name, h.nodeAction('function main(a) { return a; }'));
  const bad = `${h.stackEnv().key.split(':')[0]}:wrongsecret${name}`;
  const res = h.expectError(await h.api('POST', `/namespaces/_/actions/${name}?blocking=true`, { key: bad, body: {} }), 401);
  const ok = await accessLines(from, new RegExp(`method=PUT path="/api/v1/namespaces/_/actions/${name}" status=200 `));
  assert.equal(ok.lines.length, 1, ok.lines.join('\n'));
  const refused = await accessLines(from, new RegExp(`id=${res.json.code}\\b`));
  assert.match(refused.lines[0], new RegExp(`method=POST path="/api/v1/namespaces/_/actions/${name}" status=401 `));
  const text = fs.readFileSync(gatewayLog()).subarray(from).toString('utf8');
  const key = h.stackEnv().key;
  for (const secret of [key, key.split(':')[1], `wrongsecret${name}`, h.basic(key).slice(6), h.basic(bad).slice(6)]) {
    assert.ok(!text.includes(secret), `the gateway log holds a secret (${secret.slice(0, 4)}...)`);
  }
  assert.doesNotMatch(text, /authorization:|Basic [A-Za-z0-9+/=]{8,}/i, 'the gateway log quotes an Authorization header');
});

test('a path cannot forge a log line or a field', async () => {
  const from = fs.statSync(gatewayLog()).size;
  // a quote and spaces: escaped inside path="..."
  const q = h.expectError(await h.api('GET', '/namespaces/_/actions/x%22%20status=200%20y'), 400);
  const { lines } = await accessLines(from, new RegExp(`id=${q.json.code}\\b`));
  assert.equal(field(lines[0], 'path'), '/api/v1/namespaces/_/actions/x%22%20status=200%20y');
  assert.equal(field(lines[0], 'status'), '400');
  // a newline (however lws takes it): never a line of its own
  const n = await h.api('GET', '/namespaces/_/actions/a%0A2026-01-01T00:00:00.000Z%20forged');
  assert.ok(n.status >= 400 && n.status < 500, `a newline in a name: ${h.show(n)}`);
  if (n.json && n.json.code) {
    const nl = await accessLines(from, new RegExp(`id=${n.json.code}\\b`));
    assert.match(field(nl.lines[0], 'path'), /^\/api\/v1\/namespaces\/_\/actions\/a/);
  }
  await h.sleep(200);
  const text = fs.readFileSync(gatewayLog()).subarray(from).toString('utf8');
  assert.doesNotMatch(text, /^2026-01-01T00:00:00\.000Z forged/m, 'a forged line in the gateway log');
});
