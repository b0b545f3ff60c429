// The parts of OpenWhisk's public surface that clients read or send without thinking about
// them: the info documents (GET / and GET /api/v1), family:default kinds, the skeleton
// blackbox image that `wsk action create --native` sends, base64 code without a binary flag,
// ns%2Fpkg namespaces and GET .../actions/{package}/.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const names = [];
const PKG = h.uniqueName('surfpkg');
after(async () => {
  for (const n of names) await h.deleteAction(n).catch(() => {});
  await h.api('DELETE', `/namespaces/_/packages/${PKG}?force=true`).catch(() => {});
});

const zip = h.zip;

async function rawGet(path) {
  const res = await fetch(h.stackEnv().apiHost + path);
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

test('GET / describes the platform: api_paths, limits, runtimes with one default per family', async () => {
  const r = await rawGet('/');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.api_paths, ['/api/v1']);
  const l = r.json.limits;
  for (const k of ['actions_per_minute', 'triggers_per_minute', 'concurrent_actions', 'sequence_length',
    'min_action_duration', 'max_action_duration', 'min_action_memory', 'max_action_memory',
    'min_action_logs', 'max_action_logs']) {
    assert.equal(typeof l[k], 'number', `limits.${k}: ${JSON.stringify(l)}`);
  }
  assert.equal(l.max_action_duration, 300000);
  assert.equal(l.max_action_memory, 512 * 1024 * 1024);
  for (const fam of ['nodejs', 'python', 'native']) {
    const kinds = r.json.runtimes[fam];
    assert.ok(Array.isArray(kinds) && kinds.length > 0, `runtimes.${fam}`);
    assert.equal(kinds.filter((k) => k.default === true).length, 1, `one default in ${fam}`);
    for (const k of kinds) assert.equal(typeof k.deprecated, 'boolean');
  }
  const v1 = await rawGet('/api/v1');
  assert.equal(v1.status, 200);
  assert.equal(v1.json.api_version_path, 'v1');
  assert.equal(typeof v1.json.build, 'string');
});

test('family:default kinds resolve, and are stored as the kind they stand for', async () => {
  const py = h.uniqueName('pydef');
  names.push(py);
  let a = await h.putAction(py, { kind: 'python:default', code: 'def main(a):\n    return {"ok": 1}\n' });
  assert.equal(a.exec.kind, 'python:3');
  let res = await h.invoke(py, {}, 'blocking=true&result=true');
  h.expectStatus(res, 200);
  assert.deepEqual(res.json, { ok: 1 });
  const nd = h.uniqueName('nodedef');
  names.push(nd);
  a = await h.putAction(nd, { kind: 'nodejs:default', code: 'function main(){return {ok: 2}}' });
  assert.equal(a.exec.kind, 'nodejs:20');
  res = await h.api('PUT', `/namespaces/_/actions/${h.uniqueName('nokind')}`, { body: { exec: { kind: 'ruby:default', code: 'x' } } });
  h.expectError(res, 400);
});

test('blackbox on the skeleton image runs as native; any other image is a clear 400', async () => {
  const n = h.uniqueName('skel');
  names.push(n);
  const code = zip({ '*exec': '#!/bin/sh\necho \'{"from":"skeleton"}\'\n' });
  const a = await h.putAction(n, { kind: 'blackbox', image: 'openwhisk/dockerskeleton', code, binary: true });
  assert.equal(a.exec.kind, 'native');
  const res = await h.invoke(n, {}, 'blocking=true&result=true');
  h.expectStatus(res, 200);
  assert.deepEqual(res.json, { from: 'skeleton' });
  const bad = await h.api('PUT', `/namespaces/_/actions/${h.uniqueName('img')}`, {
    body: { exec: { kind: 'blackbox', image: 'someone/custom-image:1.0', code } } });
  h.expectError(bad, 400);
  assert.match(bad.json.error, /native/);
});

test('base64 code without a binary flag is taken as binary, as OpenWhisk does', async () => {
  const n = h.uniqueName('zipnoflag');
  names.push(n);
  const code = zip({ 'index.js': 'exports.main = () => ({ zipped: true })' });
  const a = await h.putAction(n, { kind: 'nodejs:20', code });
  assert.equal(a.exec.binary, true);
  const res = await h.invoke(n, {}, 'blocking=true&result=true');
  h.expectStatus(res, 200);
  assert.deepEqual(res.json, { zipped: true });
  const plain = h.uniqueName('plain');
  names.push(plain);
  const p = await h.putAction(plain, { kind: 'nodejs:20', code: 'function main(){return {}}' });
  assert.equal(p.exec.binary, false);
});

test('a package\'s actions: GET .../actions/{package}/ lists them; ns%2Fpkg addresses them', async () => {
  h.expectStatus(await h.api('PUT', `/namespaces/_/packages/${PKG}`, { body: {} }), 200);
  for (const x of ['a', 'b']) {
    h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${PKG}/${x}`, {
      body: { exec: { kind: 'nodejs:20', code: `function main(){return {x:'${x}'}}` } } }), 200);
  }
  let res = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${PKG}/`), 200);
  assert.deepEqual(res.json.map((a) => a.name).sort(), ['a', 'b'], h.show(res));
  assert.ok(res.json.every((a) => a.namespace === `guest/${PKG}`), h.show(res));
  res = h.expectStatus(await h.api('GET', `/namespaces/guest%2F${PKG}/actions/a`), 200);
  assert.equal(res.json.name, 'a');
  res = h.expectStatus(await h.api('POST', `/namespaces/guest%2F${PKG}/actions/b?blocking=true&result=true`, { body: {} }), 200);
  assert.deepEqual(res.json, { x: 'b' });
  res = h.expectStatus(await h.api('GET', `/namespaces/guest%2F${PKG}/actions`), 200);
  assert.equal(res.json.length, 2, h.show(res));
  h.expectError(await h.api('GET', `/namespaces/_/actions/nosuch_${PKG}/`), 404);
});

test('__OW_ACTION_VERSION and __OW_TRANSACTION_ID are in the action\'s environment', async () => {
  const n = h.uniqueName('owenv');
  names.push(n);
  await h.putAction(n, { kind: 'nodejs:20', code: `function main(){ return {v: process.env.__OW_ACTION_VERSION,
    t: process.env.__OW_TRANSACTION_ID, ns: process.env.__OW_NAMESPACE} }` });
  await h.putAction(n, { kind: 'nodejs:20', code: `function main(){ return {v: process.env.__OW_ACTION_VERSION,
    t: process.env.__OW_TRANSACTION_ID, ns: process.env.__OW_NAMESPACE} }` }, {}, '?overwrite=true');
  const res = h.expectStatus(await h.invoke(n, {}, 'blocking=true'), 200);
  const r = res.json.response.result;
  assert.equal(r.v, '0.0.2', h.show(res));
  assert.match(r.t, /^[0-9a-f]{32}$/, h.show(res));
  assert.equal(r.ns, 'guest', h.show(res));
});

test('parameters with init: true reach the runtime as environment variables, not as arguments', async () => {
  const params = [{ key: 'SQ_TEST_DB', value: 'db://x', init: true }, { key: 'SQ_TEST_N', value: 7, init: true }, { key: 'p', value: 1 }];
  const node = h.uniqueName('initenv');
  names.push(node);
  await h.putAction(node, { kind: 'nodejs:20', code: `function main(a){ return {env: process.env.SQ_TEST_DB,
    n: process.env.SQ_TEST_N, arg: a.SQ_TEST_DB === undefined ? 'absent' : 'present', p: a.p} }` }, { parameters: params });
  let r = h.expectStatus(await h.invoke(node, {}, 'blocking=true&result=true'), 200);
  assert.deepEqual(r.json, { env: 'db://x', n: '7', arg: 'absent', p: 1 }, h.show(r));
  const py = h.uniqueName('initenvpy');
  names.push(py);
  await h.putAction(py, { kind: 'python:3', code: 'import os\ndef main(a):\n    return {"env": os.environ.get("SQ_TEST_DB"), "arg": "SQ_TEST_DB" in a}\n' },
    { parameters: params });
  r = h.expectStatus(await h.invoke(py, {}, 'blocking=true&result=true'), 200);
  assert.deepEqual(r.json, { env: 'db://x', arg: false }, h.show(r));
  const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${node}?code=false`), 200);
  assert.equal(got.json.parameters.find((x) => x.key === 'SQ_TEST_DB').init, true, 'the init flag is kept');
});
