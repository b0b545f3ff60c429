// PostgreSQL stopped (pg_ctl stop -m fast), nothing else touched: the auth service keeps
// accepting the keys it verified lately (its bounded stale cache), so invokes with such a
// key go on; a key it never verified gets 503 (not 401: it may be good), a wrong secret for
// a cached key is not accepted, and once PostgreSQL is back the never-seen key works. The
// gateway's own 5 s key cache is off here (SQ_GATEWAY_AUTH_CACHE_MS=0), so every request
// reaches auth. The registry meanwhile answers 503 (its database is out of reach), not 500,
// and stores nothing.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const f = require('./faults.js');

const BUILD = path.resolve(process.env.SQ_BUILD_DIR || path.join(__dirname, '..', '..', 'build'));

const pgCtl = f.pgCtl;

// sq.<svc>.health over NATS (nats.js, credentials apart from the URL)
async function natsHealth(stack, svc) {
  const { connect } = require('nats');
  const { Packr } = require('msgpackr');
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });
  const opts = { servers: stack.env.SQ_NATS_URL.replace(/\/\/[^@/]*@/, '//'), timeout: 5000 };
  if (stack.env.SQ_NATS_USER) {
    opts.user = stack.env.SQ_NATS_USER;
    opts.pass = stack.env.SQ_NATS_PASS;
    opts.inboxPrefix = `_INBOX_${stack.env.SQ_NATS_USER}`; // the only inbox the user may listen on
  }
  const nc = await connect(opts);
  try {
    const m = await nc.request(`sq.${svc}.health`, packr.pack({}), { timeout: 5000 });
    return packr.unpack(m.data);
  } finally {
    await nc.close();
  }
}

async function invoke(stack, key, n) {
  const res = await fetch(`${stack.env.SQ_API_HOST}/api/v1/namespaces/_/actions/fault?blocking=true&result=true`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(key).toString('base64'), 'content-type': 'application/json' },
    body: JSON.stringify({ n }),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  return { status: res.status, text };
}

test('auth answers recently verified keys while PostgreSQL is down, 503 for others', { timeout: 300000 }, async () => {
  let stack, downStatus = 0, pgStopped = false;
  try {
    stack = f.stackUp('auth_stale', { SQ_GATEWAY_AUTH_CACHE_MS: '0' });
    await f.prepare(stack); // the action "fault", warm; the guest key verified on the way
    // a second user whose key auth never verified
    const out = execFileSync(path.join(BUILD, 'ops', 'squall-admin'), ['--url', stack.env.SQ_NATS_URL, '--token',
      stack.env.SQ_ADMIN_TOKEN, 'user', 'create', 'stalebob'], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
    const bobKey = JSON.parse(out).key;
    assert.match(bobKey, /^[0-9a-f-]{36}:[A-Za-z0-9]{64}$/);
    const guest = stack.env.SQ_GUEST_KEY;
    const wrong = guest.slice(0, 37) + (guest[37] === 'a' ? 'b' : 'a') + guest.slice(38);

    let r = await invoke(stack, guest, 1);
    assert.equal(r.status, 200, `before: ${r.status} ${r.text}`);

    await pgCtl(stack, 'stop');
    pgStopped = true;

    for (let i = 0; i < 20; i++) {
      r = await invoke(stack, guest, 100 + i);
      assert.equal(r.status, 200, `verified key while PostgreSQL is down (#${i}): ${r.status} ${r.text}`);
      assert.deepEqual(JSON.parse(r.text), { n: 100 + i });
    }
    f.log('20 blocking invokes with the recently verified key: 200');
    r = await invoke(stack, bobKey, 1);
    assert.equal(r.status, 503, `never-verified key while PostgreSQL is down: ${r.status} ${r.text}`);
    r = await invoke(stack, wrong, 1);
    assert.equal(r.status, 503, `wrong secret of a cached key while PostgreSQL is down: ${r.status} ${r.text}`);
    f.log('never-verified key and wrong secret: 503');
    // the registry cannot reach its database either: 503 (nothing done, try again), not 500
    const pgdown = { exec: { kind: 'nodejs:20', code: 'function main(){return {}}' } };
    let reg = await f.api(stack, 'PUT', '/namespaces/_/actions/pgdown', pgdown);
    assert.equal(reg.status, 503, `PUT action while PostgreSQL is down: ${reg.status} ${reg.text}`);
    assert.ok(reg.json && typeof reg.json.error === 'string', `a JSON error: ${reg.text}`);
    reg = await f.api(stack, 'GET', '/namespaces/_/actions/fault');
    assert.equal(reg.status, 503, `GET action while PostgreSQL is down: ${reg.status} ${reg.text}`);
    f.log('registry PUT and GET while PostgreSQL is down: 503');
    // health says what failed: auth's PostgreSQL check, and the gateway is not ready
    const health = spawnSync(path.join(BUILD, 'ops', 'squall-health'), ['--url', stack.env.SQ_NATS_URL, 'auth']);
    assert.equal(health.status, 0, 'auth still answers its health');
    const hr = await natsHealth(stack, 'auth');
    assert.equal(hr.ok, false, JSON.stringify(hr));
    assert.deepEqual(hr.failed, ['postgresql']);
    assert.equal(hr.checks.jetstream, 'ok');
    let ready;
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${stack.env.SQ_API_HOST}/readyz`);
      ready = { status: res.status, json: await res.json() };
      // a snapshot from before PostgreSQL stopped (the stack just came up) may still be there
      if (ready.status === 503 && ready.json.failed.includes('auth')) break;
      await f.sleep(250);
    }
    assert.equal(ready.status, 503, `readyz with PostgreSQL down: ${JSON.stringify(ready)}`);
    assert.ok(ready.json.failed.includes('auth') && ready.json.failed.includes('registry') &&
      ready.json.failed.includes('activations') && !ready.json.failed.includes('scheduler'), JSON.stringify(ready.json.failed));
    assert.equal((await fetch(`${stack.env.SQ_API_HOST}/healthz`)).status, 200);

    await pgCtl(stack, 'start');
    pgStopped = false;
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      r = await invoke(stack, bobKey, 7);
      // bob's own namespace has no action "fault": 404 proves the key verified
      ok = r.status === 404;
      if (!ok) await f.sleep(200);
    }
    assert.ok(ok, `the never-verified key after PostgreSQL is back: ${r.status} ${r.text}`);
    // the PUT refused during the outage stored nothing; the registry serves again
    reg = await f.api(stack, 'GET', '/namespaces/_/actions/pgdown');
    assert.equal(reg.status, 404, `the action PUT during the outage: ${reg.status} ${reg.text}`);
    reg = await f.api(stack, 'PUT', '/namespaces/_/actions/pgdown', pgdown);
    assert.equal(reg.status, 200, `PUT action with PostgreSQL back: ${reg.status} ${reg.text}`);
    r = await invoke(stack, wrong, 1);
    assert.equal(r.status, 401, `wrong secret with PostgreSQL back: ${r.status} ${r.text}`);
    // the log says it answered from the cache, and no secret is in it
    const authLog = fs.readFileSync(path.join(stack.state, 'logs', 'auth.log'), 'utf8');
    assert.match(authLog, /answering keys verified .* from the stale cache/);
    for (const k of [guest, bobKey, wrong]) assert.ok(!authLog.includes(k.split(':')[1]), 'a secret is in auth.log');
  } finally {
    if (pgStopped) await pgCtl(stack, 'start').catch(() => {});
    downStatus = f.stackDown(stack);
  }
  assert.equal(downStatus, 0, 'stack.sh down failed (sanitizer findings in the service logs?)');
});
