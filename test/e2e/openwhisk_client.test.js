// End to end with the official OpenWhisk JavaScript client (npm `openwhisk`): if this
// client works against Squall, users' tools work. Create, update, invoke (blocking and not),
// read activations (get, list, logs, result), list actions, delete, list namespaces.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const openwhisk = h.dep('openwhisk');
const name = h.uniqueName('e2e_hello');
const failing = h.uniqueName('e2e_fail');
let ow;
let blockingId;

before(() => {
  const env = h.stackEnv();
  ow = openwhisk({ apihost: env.apiHost, api_key: env.key, ignore_certs: true });
});

after(async () => {
  for (const n of [name, failing]) await ow.actions.delete({ name: n }).catch(() => {});
});

// The client's errors carry the HTTP status and body; make them readable in a failure.
async function call(what, p) {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${what} failed: ${e.message} (statusCode ${e.statusCode}, body ${JSON.stringify(e.error)})`);
  }
}

async function activationWhenStored(id) {
  const deadline = Date.now() + 10000;
  let last;
  while (Date.now() < deadline) {
    try {
      return await ow.activations.get({ name: id });
    } catch (e) {
      last = e;
      if (e.statusCode !== 404) break;
      await h.sleep(100);
    }
  }
  throw new Error(`ow.activations.get(${id}) did not find the record within 10 s: ${last && last.message}`);
}

test('ow.namespaces.list() gives ["guest"]', async () => {
  const ns = await call('namespaces.list', ow.namespaces.list());
  assert.deepEqual(ns, ['guest']);
});

test('ow.actions.create() makes the action (kind nodejs:default, as the client sends it)', async () => {
  const a = await call('actions.create', ow.actions.create({
    name,
    action: "function main(a){ console.log('called with ' + JSON.stringify(a)); return {greeting:'hello '+(a.name||'world')} }",
  }));
  assert.equal(a.name, name);
  assert.equal(a.namespace, 'guest');
  assert.equal(a.version, '0.0.1');
  assert.match(a.exec.kind, /^nodejs:/);
});

test('ow.actions.create() of an existing name is refused with 409', async () => {
  await assert.rejects(ow.actions.create({ name, action: 'function main(){return {}}' }), (e) => {
    assert.equal(e.statusCode, 409, `statusCode ${e.statusCode}: ${e.message}`);
    return true;
  });
});

test('ow.actions.update() replaces it (kind nodejs:20, parameters) and bumps the version', async () => {
  const a = await call('actions.update', ow.actions.update({
    name,
    action: "function main(a){ console.log('called with ' + JSON.stringify(a)); return {greeting:'hello '+(a.name||'world'), lang:a.lang} }",
    kind: 'nodejs:20',
    params: { lang: 'en' },
  }));
  assert.equal(a.version, '0.0.2');
  assert.equal(a.exec.kind, 'nodejs:20');
  assert.deepEqual(a.parameters, [{ key: 'lang', value: 'en' }]);
  const got = await call('actions.get', ow.actions.get({ name }));
  assert.equal(got.version, '0.0.2');
  assert.match(got.exec.code, /hello/);
});

test('ow.actions.invoke({blocking: true}) returns the activation', async () => {
  const act = await call('actions.invoke blocking', ow.actions.invoke({ name, blocking: true, params: { name: 'client' } }));
  assert.match(act.activationId, /^[0-9a-f]{32}$/);
  assert.equal(act.name, name);
  assert.equal(act.namespace, 'guest');
  assert.equal(act.response.status, 'success');
  assert.equal(act.response.success, true);
  assert.deepEqual(act.response.result, { greeting: 'hello client', lang: 'en' });
  blockingId = act.activationId;
});

test('ow.actions.invoke({blocking: true, result: true}) returns the result only', async () => {
  const r = await call('actions.invoke result', ow.actions.invoke({ name, blocking: true, result: true, params: { lang: 'fr' } }));
  assert.deepEqual(r, { greeting: 'hello world', lang: 'fr' });
});

test('ow.actions.invoke() non-blocking returns {activationId}; ow.activations.get() finds the record', async () => {
  const r = await call('actions.invoke non-blocking', ow.actions.invoke({ name, params: { name: 'async' } }));
  assert.match(r.activationId, /^[0-9a-f]{32}$/);
  const rec = await activationWhenStored(r.activationId);
  assert.equal(rec.activationId, r.activationId);
  assert.equal(rec.name, name);
  assert.deepEqual(rec.response.result, { greeting: 'hello async', lang: 'en' });
  assert.ok(rec.end >= rec.start && typeof rec.duration === 'number');
});

test('ow.activations.logs() and ow.activations.result()', async () => {
  assert.ok(blockingId, 'depends on the blocking invoke');
  await activationWhenStored(blockingId);
  const logs = await call('activations.logs', ow.activations.logs({ name: blockingId }));
  assert.ok(Array.isArray(logs.logs), JSON.stringify(logs));
  assert.equal(logs.logs.length, 1, JSON.stringify(logs));
  assert.match(logs.logs[0], /^\S+Z\s+stdout: called with \{"lang":"en","name":"client"\}$|^\S+Z\s+stdout: called with \{"name":"client","lang":"en"\}$/);
  const res = await call('activations.result', ow.activations.result({ name: blockingId }));
  assert.deepEqual(res.result, { greeting: 'hello client', lang: 'en' });
  assert.equal(res.success, true);
  assert.equal(res.status, 'success');
});

test('ow.activations.list() lists the activations newest first, with limit', async () => {
  const list = await call('activations.list', ow.activations.list({ limit: 50 }));
  assert.ok(Array.isArray(list));
  const mine = list.filter((a) => a.name === name);
  assert.ok(mine.length >= 3, `want the 3 invokes of ${name}, listed ${mine.length}: ${JSON.stringify(list).slice(0, 500)}`);
  for (let i = 1; i < list.length; i++) assert.ok(list[i - 1].start >= list[i].start, 'not newest first');
  const two = await call('activations.list limit 2', ow.activations.list({ limit: 2 }));
  assert.equal(two.length, 2);
  assert.deepEqual(two.map((a) => a.activationId), list.slice(0, 2).map((a) => a.activationId));
});

test('ow.activations.list({name}) lists only that action\'s activations', async () => {
  const filtered = await call('activations.list name', ow.activations.list({ name, limit: 50 }));
  assert.ok(filtered.length >= 3 && filtered.every((a) => a.name === name),
    `activations.list({name}) is not filtered by name: ${JSON.stringify(filtered.map((a) => a.name))}`);
});

test('ow.actions.list() includes the action', async () => {
  const list = await call('actions.list', ow.actions.list({ limit: 200 }));
  const a = list.find((x) => x.name === name);
  assert.ok(a, `${name} not listed: ${JSON.stringify(list.map((x) => x.name))}`);
  assert.equal(a.version, '0.0.2');
});

test('a failing action rejects the blocking invoke with 502 and the activation', async () => {
  await call('actions.create failing', ow.actions.create({ name: failing, action: 'function main(){ return {error: "nope"} }', kind: 'nodejs:20' }));
  await assert.rejects(ow.actions.invoke({ name: failing, blocking: true }), (e) => {
    assert.equal(e.statusCode, 502, e.message);
    assert.equal(e.error.response.status, 'application error', JSON.stringify(e.error));
    assert.deepEqual(e.error.response.result, { error: 'nope' });
    assert.match(e.message, /nope/);
    return true;
  });
});

test('ow.actions.delete() removes it; get afterwards is 404', async () => {
  const d = await call('actions.delete', ow.actions.delete({ name }));
  assert.equal(d.name, name);
  await assert.rejects(ow.actions.get({ name }), (e) => {
    assert.equal(e.statusCode, 404, e.message);
    return true;
  });
  const list = await call('actions.list', ow.actions.list({ limit: 200 }));
  assert.ok(!list.some((x) => x.name === name), 'deleted action still listed');
});

test('a wrong key is refused with 401', async () => {
  const env = h.stackEnv();
  const bad = openwhisk({ apihost: env.apiHost, api_key: env.key.split(':')[0] + ':' + 'x'.repeat(64), ignore_certs: true });
  await assert.rejects(bad.actions.list(), (e) => {
    assert.equal(e.statusCode, 401, e.message);
    return true;
  });
});
