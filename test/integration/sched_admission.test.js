// Scheduler admission: a namespace's invocations per minute and concurrent activations
// (from the auth service's limits, set here with squall-admin on a namespace of this test's
// own) give 429 with OpenWhisk's messages and queue nothing; a change of limits reaches the
// scheduler at once (sq.evt.auth drops its cache); the concurrency slot of an activation is
// given back when its record is stored; an invoke request over 1 MB is 413.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('../harness/squall.js');

const subject = h.uniqueName('adm').replace(/[^A-Za-z0-9_]/g, '_');
let key = null;

const admin = h.admin;

function setLimits(limits) {
  admin('namespace', 'limits', 'set', subject, ...Object.entries(limits).map(([k, v]) => `${k}=${v}`));
}

async function put(name, code, limits) {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    key, body: { exec: { kind: 'nodejs:20', code }, limits },
  });
  h.expectStatus(res, 200);
}

const invoke = (name, query = '', body = {}) =>
  h.api('POST', `/namespaces/_/actions/${name}${query ? '?' + query : ''}`, { key, body });

before(async () => {
  key = admin('user', 'create', subject).key;
  assert.match(String(key), /^[0-9a-f-]{36}:/, 'squall-admin user create gave no key');
  await put('quick', 'function main(a){return {ok: true}}');
  await put('slow', 'function main(a){return new Promise((r) => setTimeout(() => r({ok: true}), 1500))}');
});

after(async () => {
  try { admin('user', 'delete', subject); } catch { /* already gone */ }
  await h.closeNats();
});

test('invocations per minute: the one over the limit is 429 with OpenWhisk\'s message', async () => {
  // the window is the wall clock's minute: start early in one
  const s = new Date().getSeconds();
  if (s > 50) await h.sleep((61 - s) * 1000);
  setLimits({ invocationsPerMinute: 3, concurrentInvocations: 100 });
  for (let i = 0; i < 3; i++) h.expectStatus(await invoke('quick', 'blocking=true'), 200);
  const res = await invoke('quick', 'blocking=true');
  h.expectError(res, 429);
  assert.equal(res.json.error, 'Too many requests in the last minute (count: 3, allowed: 3).', h.show(res));
  const nb = await invoke('quick');
  h.expectError(nb, 429);
  // raising the limit takes effect at once (the auth event drops the scheduler's cache)
  setLimits({ invocationsPerMinute: 1000 });
  await h.until200(20, () => invoke('quick', 'blocking=true'));
});

test('concurrent activations: over the limit is 429, nothing is queued, the slot comes back', async () => {
  setLimits({ invocationsPerMinute: 1000, concurrentInvocations: 2 });
  await h.sleep(200);
  const a = await invoke('slow');
  const b = await invoke('slow');
  h.expectStatus(a, 202);
  h.expectStatus(b, 202);
  const c = await invoke('slow');
  h.expectError(c, 429);
  assert.equal(c.json.error, 'Too many concurrent requests in flight (count: 2, allowed: 2).', h.show(c));
  // a blocking one is refused the same way while they run
  h.expectError(await invoke('quick', 'blocking=true'), 429);
  // when their records are stored, the slots are free again
  await h.until200(100, () => invoke('quick', 'blocking=true'));
  // the refused one was not queued: only a and b have records of the slow action
  for (const id of [a.json.activationId, b.json.activationId]) {
    await h.until200(100, () => h.api('GET', `/namespaces/_/activations/${id}`, { key }));
  }
  await h.sleep(500);
  const list = await h.api('GET', '/namespaces/_/activations?name=slow&limit=50', { key });
  h.expectStatus(list, 200);
  const slowIds = list.json.map((x) => x.activationId).sort();
  assert.deepEqual(slowIds, [a.json.activationId, b.json.activationId].sort(), h.show(list));
});

test('an invoke request over 1 MB is 413 at the scheduler', async () => {
  const big = 'x'.repeat(1100 * 1024);
  const env = h.stackEnv();
  const { value } = await h.natsRequest('sq.sched.invoke', {
    id: crypto.randomBytes(16).toString('hex'), ns: subject, name: 'quick', subject, caller_ns: subject,
    params: { big }, blocking: false,
  });
  assert.ok(value.error, `no error for a 1.1 MB invoke: ${JSON.stringify(value).slice(0, 200)}`);
  assert.equal(value.error.code, 413, JSON.stringify(value));
  assert.ok(env);
});
