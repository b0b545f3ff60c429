// REST API v1, actions: create, conflict, overwrite, get (with and without code), list,
// delete, against the real stack (gateway -> auth, registry over NATS, PostgreSQL).
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const HELLO = "function main(a){return {greeting:'hello '+(a.name||'world')}}";
const HELLO2 = "function main(a){return {greeting:'hi '+(a.name||'world')}}";
const name = h.uniqueName('hello');

after(async () => {
  await h.deleteAction(name).catch(() => {});
});

function checkActionShape(a, res, version) {
  assert.ok(a && typeof a === 'object', `not an action object: ${h.show(res)}`);
  assert.equal(a.name, name, `name: ${h.show(res)}`);
  assert.equal(a.namespace, 'guest', `namespace: ${h.show(res)}`);
  assert.equal(a.version, version, `version: ${h.show(res)}`);
  assert.equal(a.publish, false, `publish: ${h.show(res)}`);
  assert.ok(a.exec && a.exec.kind === 'nodejs:20', `exec.kind: ${h.show(res)}`);
  assert.equal(a.exec.binary, false, `exec.binary: ${h.show(res)}`);
  assert.ok(a.limits, `no limits: ${h.show(res)}`);
  assert.equal(a.limits.timeout, 60000, `default timeout limit: ${h.show(res)}`);
  assert.equal(a.limits.memory, 256, `default memory limit: ${h.show(res)}`);
  assert.equal(a.limits.logs, 10, `default logs limit: ${h.show(res)}`);
  assert.ok(Array.isArray(a.parameters), `parameters is not an array: ${h.show(res)}`);
  assert.ok(Array.isArray(a.annotations), `annotations is not an array: ${h.show(res)}`);
  assert.equal(typeof a.updated, 'number', `updated is not a number: ${h.show(res)}`);
}

test('GET /namespaces lists the guest namespace', async () => {
  const res = h.expectStatus(await h.api('GET', '/namespaces'), 200);
  assert.deepEqual(res.json, ['guest'], h.show(res));
});

test('PUT creates the action with version 0.0.1', async () => {
  const before = Date.now();
  const res = await h.api('PUT', `/namespaces/_/actions/${name}`, { body: { exec: { kind: 'nodejs:20', code: HELLO } } });
  h.expectStatus(res, 200);
  checkActionShape(res.json, res, '0.0.1');
  assert.ok(res.json.updated >= before - 5000 && res.json.updated <= Date.now() + 5000,
    `updated ${res.json.updated} is not the time of the PUT (ms since the epoch): ${h.show(res)}`);
});

test('PUT again without overwrite is 409 and changes nothing', async () => {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}`, { body: { exec: { kind: 'nodejs:20', code: HELLO2 } } });
  h.expectError(res, 409);
  const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${name}`), 200);
  assert.equal(got.json.version, '0.0.1', `the refused PUT bumped the version: ${h.show(got)}`);
  assert.equal(got.json.exec.code, HELLO, `the refused PUT replaced the code: ${h.show(got)}`);
});

test('PUT ?overwrite=true updates it to version 0.0.2', async () => {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: { exec: { kind: 'nodejs:20', code: HELLO2 }, parameters: [{ key: 'name', value: 'param' }] },
  });
  h.expectStatus(res, 200);
  checkActionShape(res.json, res, '0.0.2');
  assert.deepEqual(res.json.parameters, [{ key: 'name', value: 'param' }], `parameters: ${h.show(res)}`);
});

test('GET returns the action with its code; ?code=false leaves the code out', async () => {
  const res = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${name}`), 200);
  checkActionShape(res.json, res, '0.0.2');
  assert.equal(res.json.exec.code, HELLO2, `exec.code: ${h.show(res)}`);

  const nocode = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${name}?code=false`), 200);
  checkActionShape(nocode.json, nocode, '0.0.2');
  assert.ok(!('code' in nocode.json.exec), `?code=false still has exec.code: ${h.show(nocode)}`);

  // the explicit namespace is the same as "_"
  const explicit = h.expectStatus(await h.api('GET', `/namespaces/guest/actions/${name}`), 200);
  assert.equal(explicit.json.version, '0.0.2', h.show(explicit));
});

test('GET /actions lists the action; limit and skip page the list', async () => {
  const others = [h.uniqueName('list_a'), h.uniqueName('list_b')];
  try {
    for (const o of others) await h.putAction(o, h.nodeAction('function main(){return {}}'));
    const res = h.expectStatus(await h.api('GET', '/namespaces/_/actions?limit=200'), 200);
    assert.ok(Array.isArray(res.json), `not an array: ${h.show(res)}`);
    const mine = res.json.find((a) => a.name === name);
    assert.ok(mine, `${name} missing from the list: ${h.show(res)}`);
    assert.equal(mine.namespace, 'guest', h.show(res));
    assert.equal(mine.version, '0.0.2', h.show(res));
    for (const o of others) assert.ok(res.json.some((a) => a.name === o), `${o} missing: ${h.show(res)}`);
    for (const a of res.json) {
      assert.ok(!(a.exec && 'code' in a.exec), `a list entry carries code: ${JSON.stringify(a).slice(0, 300)}`);
    }

    const total = res.json.length;
    assert.ok(total >= 3, h.show(res));
    const one = h.expectStatus(await h.api('GET', '/namespaces/_/actions?limit=1'), 200);
    assert.equal(one.json.length, 1, `limit=1: ${h.show(one)}`);
    const skipped = h.expectStatus(await h.api('GET', '/namespaces/_/actions?skip=1&limit=200'), 200);
    assert.equal(skipped.json.length, total - 1, `skip=1 of ${total}: ${h.show(skipped)}`);
    assert.deepEqual(skipped.json.map((a) => a.name), res.json.slice(1).map((a) => a.name),
      'skip=1 is not the full list without its first entry');
    assert.equal(one.json[0].name, res.json[0].name, 'limit=1 is not the first entry of the full list');
  } finally {
    for (const o of others) await h.deleteAction(o);
  }
});

test('DELETE returns the entity; GET and DELETE afterwards are 404', async () => {
  const res = h.expectStatus(await h.deleteAction(name), 200);
  assert.equal(res.json && res.json.name, name, `DELETE did not return the entity: ${h.show(res)}`);
  assert.equal(res.json.version, '0.0.2', h.show(res));
  h.expectError(await h.api('GET', `/namespaces/_/actions/${name}`), 404);
  h.expectError(await h.deleteAction(name), 404);
  const list = h.expectStatus(await h.api('GET', '/namespaces/_/actions'), 200);
  assert.ok(!list.json.some((a) => a.name === name), `deleted action still listed: ${h.show(list)}`);
});

test('an action created again after DELETE starts over at 0.0.1', async () => {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}`, { body: { exec: h.nodeAction(HELLO) } });
  h.expectStatus(res, 200);
  assert.equal(res.json.version, '0.0.1', h.show(res));
});

test('nodejs:default is accepted as a kind', async () => {
  const n = h.uniqueName('dflt');
  try {
    const res = await h.api('PUT', `/namespaces/_/actions/${n}`, { body: { exec: { kind: 'nodejs:default', code: HELLO } } });
    h.expectStatus(res, 200);
    assert.ok(/^nodejs:/.test(res.json.exec.kind), `exec.kind: ${h.show(res)}`);
  } finally {
    await h.deleteAction(n);
  }
});

test('limits given at create are stored', async () => {
  const n = h.uniqueName('limits');
  try {
    const res = await h.api('PUT', `/namespaces/_/actions/${n}`, {
      body: { exec: h.nodeAction(HELLO), limits: { timeout: 1000, memory: 128, logs: 1 } },
    });
    h.expectStatus(res, 200);
    assert.equal(res.json.limits.timeout, 1000, h.show(res));
    assert.equal(res.json.limits.memory, 128, h.show(res));
    assert.equal(res.json.limits.logs, 1, h.show(res));
    const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${n}`), 200);
    assert.deepEqual([got.json.limits.timeout, got.json.limits.memory, got.json.limits.logs], [1000, 128, 1], h.show(got));
  } finally {
    await h.deleteAction(n);
  }
});
