// OpenWhisk's details that clients read back, against the real stack (the official
// `openwhisk` npm client where it has a call, raw HTTP or NATS otherwise):
// - an action update merges its annotations into the old ones (delAnnotations drops some),
//   parameters given replace, left out are kept; packages and triggers replace theirs;
// - unknown action limits (OpenWhisk's `instances`, a typo) are a 400 that changes nothing;
// - the activation list's name filter takes "pkg/action";
// - components of sequences and conductors carry the top-level `cause`, compositions carry
//   waitTime, a nested one its cause too, a conductor's record lists every activation;
// - the `binding` annotation of a composition invoked through a package binding, and the
//   binding handed to the invoker with atomic work;
// - a trigger activation's result is the payload as fired, GET of a trigger shows its rules
//   map, GET of a package lists feed actions under `feeds`;
// - an array input reaches an action and a sequence as it is (sq.sched.invoke), and an
//   array result passes through a sequence (when the invoker carries array results).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const n = (base) => h.uniqueName(base);
let ow;
const actions = [];
const packages = [];
const triggers = [];
const rules = [];

async function action(name, code, extra = {}) {
  await h.putAction(name, h.nodeAction(code), extra);
  actions.push(name);
  return name;
}

async function sequence(name, components, extra = {}) {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: Object.assign({ exec: { kind: 'sequence', components } }, extra),
  });
  h.expectStatus(res, 200);
  actions.push(name);
  return name;
}

async function pkg(name, body = {}) {
  h.expectStatus(await h.api('PUT', `/namespaces/_/packages/${name}?overwrite=true`, { body }), 200);
  packages.unshift(name);
  return name;
}

const annots = (e) => Object.fromEntries((e.annotations || []).map((a) => [a.key, a.value]));
const params = (e) => Object.fromEntries((e.parameters || []).map((a) => [a.key, a.value]));

// Polls the activation list (name filter) until pred holds, at most 15 s.
async function listUntil(name, pred) {
  const deadline = Date.now() + 15000;
  let items;
  while (Date.now() < deadline) {
    items = await ow.activations.list({ name, limit: 50 });
    if (pred(items)) return items;
    await h.sleep(200);
  }
  assert.fail(`the list for name ${name} never matched: ${JSON.stringify(items).slice(0, 800)}`);
}

let inc, echo;

before(async () => {
  const openwhisk = h.dep('openwhisk');
  const env = h.stackEnv();
  ow = openwhisk({ apihost: env.apiHost, api_key: env.key, namespace: '_' });
  inc = await action(n('owd_inc'), 'function main(a){return {value: (a.value || 0) + 1}}');
  echo = await action(n('owd_echo'), 'function main(a){return a}');
});

after(async () => {
  for (const r of rules) await ow.rules.delete({ name: r }).catch(() => {});
  for (const t of triggers) await ow.triggers.delete({ name: t }).catch(() => {});
  for (const a of actions.reverse()) await h.deleteAction(a).catch(() => {});
  for (const p of packages) await h.api('DELETE', `/namespaces/_/packages/${p}?force=true`).catch(() => {});
  await h.closeNats();
});

// ---------------------------------------------------------------- updates

test('an action update merges annotations (delAnnotations drops); parameters replace or stay', async () => {
  const name = n('owd_merge');
  actions.push(name);
  await ow.actions.create({
    name,
    action: {
      exec: { kind: 'nodejs:20', code: 'function main(a){return a}' },
      annotations: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }],
      parameters: [{ key: 'p', value: 1 }],
    },
  });
  let got = await ow.actions.update({ name, action: { annotations: [{ key: 'b', value: 3 }, { key: 'c', value: 4 }] } });
  assert.deepEqual(annots(got), { a: 1, b: 3, c: 4, 'provide-api-key': false, exec: 'nodejs:20' }, JSON.stringify(got));
  assert.deepEqual(params(got), { p: 1 }, 'parameters left out are kept');
  got = await ow.actions.get({ name });
  assert.deepEqual(annots(got), { a: 1, b: 3, c: 4, 'provide-api-key': false, exec: 'nodejs:20' }, 'stored merged');
  assert.equal(got.version, '0.0.2');

  // delAnnotations (no call in the client): the old ones minus those, then the given ones
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: { delAnnotations: ['a', 'c'], annotations: [{ key: 'd', value: true }], parameters: [{ key: 'q', value: 2 }] },
  });
  h.expectStatus(res, 200);
  assert.deepEqual(annots(res.json), { b: 3, d: true, 'provide-api-key': false, exec: 'nodejs:20' }, h.show(res));
  assert.deepEqual(params(res.json), { q: 2 }, 'parameters given replace the old ones');
  // an update that names no annotation keeps them all
  got = await ow.actions.update({ name, action: { exec: { kind: 'nodejs:20', code: 'function main(){return {v: 2}}' } } });
  assert.deepEqual(annots(got), { b: 3, d: true, 'provide-api-key': false, exec: 'nodejs:20' });
  assert.deepEqual((await ow.actions.invoke({ name, blocking: true, result: true })), { v: 2 });
});

test('a sequence that becomes code does not keep the sequence\'s parameters (OpenWhisk)', async () => {
  const name = await sequence(n('owd_seq2code'), [`/_/${inc}`], { parameters: [{ key: 's', value: 1 }] });
  const got = await ow.actions.update({ name, action: { exec: { kind: 'nodejs:20', code: 'function main(a){return a}' } } });
  assert.deepEqual(got.parameters, [], JSON.stringify(got));
  assert.equal(annots(got).exec, 'nodejs:20');
});

test('package and trigger updates replace annotations, as OpenWhisk does', async () => {
  const p = await pkg(n('owd_pkgann'), { annotations: [{ key: 'x', value: 1 }] });
  const up = await ow.packages.update({ name: p, package: { annotations: [{ key: 'y', value: 2 }] } });
  assert.deepEqual(annots(up), { y: 2 }, JSON.stringify(up));
  const t = n('owd_trgann');
  triggers.push(t);
  await ow.triggers.create({ name: t, trigger: { annotations: [{ key: 'x', value: 1 }] } });
  const tu = await ow.triggers.update({ name: t, trigger: { annotations: [{ key: 'y', value: 2 }] } });
  assert.deepEqual(annots(tu), { y: 2 }, JSON.stringify(tu));
});

// ---------------------------------------------------------------- limits

test('unknown action limits (instances, a typo) are a 400 that changes nothing', async () => {
  const name = n('owd_limits');
  let err;
  try {
    await ow.actions.create({ name, action: { exec: { kind: 'nodejs:20', code: 'function main(){return {}}' }, limits: { instances: 2 } } });
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'limits.instances was accepted');
  assert.equal(err.statusCode, 400, String(err));
  assert.match(String(err.message), /limits\.instances is not supported/, String(err));
  h.expectError(await h.api('GET', `/namespaces/_/actions/${name}`), 404);

  await action(name, 'function main(){return {}}', { limits: { memory: 128 } });
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, { body: { limits: { timeout: 1000, memroy: 256 } } });
  h.expectError(res, 400);
  assert.match(res.json.error, /limits\.memroy is not supported/, h.show(res));
  const got = await ow.actions.get({ name });
  assert.equal(got.version, '0.0.1', 'a refused update changed the action');
  assert.equal(got.limits.timeout, 60000);
  assert.equal(got.limits.memory, 128);
});

// ---------------------------------------------------------------- activation list

test('the activation list\'s name filter takes pkg/action', async () => {
  const p = await pkg(n('owd_lp'));
  const a = `${p}/${n('owd_la')}`;
  await action(a, 'function main(){return {in: "pkg"}}');
  const res = await h.invoke(a, {});
  h.expectStatus(res, 200);
  const id = res.json.activationId;
  const items = await listUntil(a, (xs) => xs.some((x) => x.activationId === id));
  assert.ok(items.every((x) => x.name === a.split('/')[1]), JSON.stringify(items).slice(0, 800));
  // the bare name is another action's (OpenWhisk keys packaged records by "pkg/name")
  const bare = await ow.activations.list({ name: a.split('/')[1], limit: 50 });
  assert.ok(!bare.some((x) => x.activationId === id), 'the bare name matched a packaged action');
  const count = await h.api('GET', `/namespaces/_/activations?name=${encodeURIComponent(a)}&count=true`);
  h.expectStatus(count, 200);
  assert.ok(count.json.activations >= 1, h.show(count));
  // more than pkg/name, or a name no entity may have: 400 with OpenWhisk's message
  for (const bad of ['a/b/c', 'a//b', '/a', 'a b ', '-x']) {
    const res = await h.api('GET', `/namespaces/_/activations?name=${encodeURIComponent(bad)}`);
    h.expectError(res, 400);
    assert.match(res.json.error, /Parameter may be a 'simple' name or 'package-name\/simple' name/, h.show(res));
  }
});

// ---------------------------------------------------------------- compositions

test('sequence components carry the top-level cause; compositions carry waitTime', async () => {
  const inner = await sequence(n('owd_inner'), [`/_/${inc}`]);
  const outer = await sequence(n('owd_outer'), [`/_/${inc}`, `/_/${inner}`]);
  const res = await h.invoke(outer, { value: 1 });
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.deepEqual(rec.response.result, { value: 3 }, h.show(res));
  assert.equal(rec.cause, undefined, 'a topmost sequence has no cause');
  assert.ok(Number.isInteger(h.annotation(rec, 'waitTime')) && h.annotation(rec, 'waitTime') >= 0, `waitTime: ${h.show(res)}`);
  assert.equal(h.annotation(rec, 'topmost'), true);
  assert.equal(rec.logs.length, 2);
  const first = await h.pollActivation(rec.logs[0]);
  assert.equal(first.cause, rec.activationId, `component without top-level cause: ${JSON.stringify(first)}`);
  assert.equal(h.annotation(first, 'causedBy'), 'sequence');
  assert.ok(Number.isInteger(h.annotation(first, 'waitTime')));
  const nested = await h.pollActivation(rec.logs[1]);
  assert.equal(nested.name, inner);
  assert.equal(nested.cause, rec.activationId, `nested sequence without top-level cause: ${JSON.stringify(nested)}`);
  assert.equal(h.annotation(nested, 'causedBy'), 'sequence');
  assert.equal(h.annotation(nested, 'topmost'), false);
  assert.ok(Number.isInteger(h.annotation(nested, 'waitTime')), `nested waitTime: ${JSON.stringify(nested)}`);
  const innerComp = await h.pollActivation(nested.logs[0]);
  assert.equal(innerComp.cause, nested.activationId, 'an inner component is caused by the inner sequence');
  // the stored record (written asynchronously) is what the caller got
  const stored = await h.pollActivation(rec.activationId, 15000);
  assert.equal(stored.cause, undefined);
  assert.equal(h.annotation(stored, 'waitTime'), h.annotation(rec, 'waitTime'));
});

test('a conductor\'s record lists every activation; each carries the top-level cause', async () => {
  const cond = n('owd_cond');
  await action(cond, `function main(params) {
    const step = params.$step || 0
    delete params.$step
    if (step === 0) return { action: '${inc}', params, state: { $step: 1 } }
    if (step === 1) return { action: '${inc}', params, state: { $step: 2 } }
    return { params }
  }`, { annotations: [{ key: 'conductor', value: true }] });
  const res = await h.invoke(cond, { value: 5 });
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.deepEqual(rec.response.result, { value: 7 }, h.show(res));
  assert.equal(h.annotation(rec, 'conductor'), true);
  assert.ok(Number.isInteger(h.annotation(rec, 'waitTime')), `conductor waitTime: ${h.show(res)}`);
  // conductor, inc, conductor, inc, conductor
  assert.equal(rec.logs.length, 5, h.show(res));
  const names = [];
  for (const id of rec.logs) {
    const c = await h.pollActivation(id);
    assert.equal(c.cause, rec.activationId, `activation ${id} of the conductor without cause: ${JSON.stringify(c)}`);
    names.push(c.name);
  }
  assert.deepEqual(names, [cond, inc, cond, inc, cond]);
});

// ---------------------------------------------------------------- bindings

test('a composition invoked through a binding is annotated binding; atomic work carries it to the invoker', async () => {
  const p = await pkg(n('owd_bp'));
  const b = await pkg(n('owd_bb'), { binding: { namespace: 'guest', name: p } });
  const s = `${p}/${n('owd_bs')}`;
  await sequence(s, [`/_/${inc}`]);
  const a = `${p}/${n('owd_ba')}`;
  await action(a, 'function main(){return {ok: true}}');
  const viaBinding = `${b}/${s.split('/')[1]}`;

  let res = await h.invoke(viaBinding, { value: 1 });
  h.expectStatus(res, 200);
  assert.equal(h.annotation(res.json, 'binding'), `guest/${b}`, h.show(res));
  assert.equal(h.annotation(res.json, 'path'), `guest/${s}`, 'path names the bound package\'s action');
  res = await h.invoke(s, { value: 1 });
  h.expectStatus(res, 200);
  assert.equal(h.annotation(res.json, 'binding'), undefined, `binding annotation without a binding: ${h.show(res)}`);

  // atomic: the scheduler hands the binding to the invoker with the work, which annotates
  // the record with it
  const r1 = await h.invoke(`${b}/${a.split('/')[1]}`, {});
  h.expectStatus(r1, 200);
  assert.equal(h.annotation(r1.json, 'binding'), `guest/${b}`, h.show(r1));
  const r2 = await h.invoke(a, {});
  h.expectStatus(r2, 200);
  assert.equal(h.annotation(r2.json, 'binding'), undefined, `binding annotation without a binding: ${h.show(r2)}`);
});

// ---------------------------------------------------------------- triggers and packages

test('a trigger activation\'s result is the payload as fired; GET shows the rules map', async () => {
  const t = n('owd_trg');
  const r = n('owd_rule');
  await ow.triggers.create({ name: t, trigger: { parameters: [{ key: 'p', value: 'trigger' }, { key: 'x', value: 0 }] } });
  triggers.push(t);
  let got = await ow.triggers.get({ name: t });
  assert.equal(got.rules, undefined, `a trigger no rule names shows rules: ${JSON.stringify(got)}`);
  await ow.rules.create({ name: r, action: echo, trigger: t });
  rules.push(r);
  got = await ow.triggers.get({ name: t });
  assert.deepEqual(got.rules, { [`guest/${r}`]: { action: { name: echo, path: 'guest' }, status: 'active' } }, JSON.stringify(got));
  await ow.rules.disable({ name: r });
  got = await ow.triggers.get({ name: t });
  assert.equal(got.rules[`guest/${r}`].status, 'inactive', JSON.stringify(got));
  await ow.rules.enable({ name: r });

  const fired = await ow.triggers.invoke({ name: t, params: { x: 1, y: [1, 2] } });
  assert.match(String(fired.activationId), /^[0-9a-f]{32}$/);
  const trec = await h.pollActivation(fired.activationId, 15000);
  assert.deepEqual(trec.response.result, { x: 1, y: [1, 2] }, JSON.stringify(trec));
  const log = JSON.parse(trec.logs[0]);
  const arec = await h.pollActivation(log.activationId, 15000);
  assert.deepEqual(arec.response.result, { p: 'trigger', x: 1, y: [1, 2] }, 'the rule\'s action gets the parameters under the payload');
  assert.equal(arec.cause, undefined, 'a rule\'s activation has no top-level cause (OpenWhisk)');
});

test('GET of a package lists feed actions under feeds', async () => {
  const p = await pkg(n('owd_feeds'));
  const f = `${p}/${n('owd_feed')}`;
  const a = `${p}/${n('owd_plain')}`;
  await action(f, 'function main(){return {}}', { annotations: [{ key: 'feed', value: true }] });
  await action(a, 'function main(){return {}}');
  const got = await ow.packages.get({ name: p });
  assert.deepEqual(got.feeds.map((x) => x.name), [f.split('/')[1]], JSON.stringify(got));
  assert.deepEqual(got.actions.map((x) => x.name), [a.split('/')[1]], JSON.stringify(got));
  assert.equal(annots(got.feeds[0]).feed, true);
});

// ---------------------------------------------------------------- arrays

test('an array input reaches an action and a sequence\'s first component as it is (sq.sched.invoke)', async () => {
  // the REST API's body is an object for now (the gateway's side): the scheduler's contract
  // takes an array, as OpenWhisk's controller does, and merges no parameters into it
  const crypto = require('node:crypto');
  const a = await action(n('owd_arrin'), 'function main(a){return {isArray: Array.isArray(a), a}}',
    { parameters: [{ key: 'p', value: 'default' }] });
  const s = await sequence(n('owd_arrinseq'), [`/_/${a}`]);
  for (const name of [a, s]) {
    // without blocking: over NATS the ops user cannot receive an invoker's answer (permissions)
    const id = crypto.randomBytes(16).toString('hex');
    const r = await h.natsRequest('sq.sched.invoke', {
      id, ns: 'guest', name, subject: 'guest', key: '',
      params: [1, { a: 2 }], blocking: false, wait_ms: 0, shared: false, caller_ns: 'guest',
    }, 25000);
    assert.equal(r.value.activationId, id, JSON.stringify(r.value));
    const rec = await h.pollActivation(id, 20000);
    assert.deepEqual(rec.response && rec.response.result, { isArray: true, a: [1, { a: 2 }] }, JSON.stringify(rec));
  }
  // the REST API takes an object only, as OpenWhisk's (test/integration/bad_input.test.js)
  // a map still gets the defaults under it
  const res = await h.invoke(a, { q: 1 });
  h.expectStatus(res, 200);
  assert.deepEqual(res.json.response.result, { isArray: false, a: { p: 'default', q: 1 } }, h.show(res));
});

test('an array result passes through a sequence', async () => {
  const arr = await action(n('owd_arr'), 'function main(){return [1, {a: 2}]}');
  const plain = await h.invoke(arr, {});
  h.expectStatus(plain, 200);
  assert.deepEqual(plain.json.response.result, [1, { a: 2 }], h.show(plain));
  const py = h.uniqueName('owd_pyarr');
  h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${py}?overwrite=true`, {
    body: { exec: { kind: 'python:3', code: 'def main(a):\n    return [3, "x"]\n' } } }), 200);
  const pr = await h.invoke(py, {}, 'blocking=true&result=true');
  h.expectStatus(pr, 200);
  assert.deepEqual(pr.json, [3, 'x'], h.show(pr));
  await h.deleteAction(py).catch(() => {});
  // a string is still not a result
  const str = await action(n('owd_str'), 'function main(){return "text"}');
  const sr = await h.invoke(str, {});
  h.expectStatus(sr, 502);
  assert.equal(sr.json.response.status, 'action developer error', h.show(sr));
  const len = await action(n('owd_len'), 'function main(a){return {isArray: Array.isArray(a), n: a.length}}');
  const s = await sequence(n('owd_arrseq'), [`/_/${arr}`, `/_/${len}`]);
  const res = await h.invoke(s, {});
  h.expectStatus(res, 200);
  assert.deepEqual(res.json.response.result, { isArray: true, n: 2 }, h.show(res));
  const s2 = await sequence(n('owd_arrlast'), [`/_/${inc}`, `/_/${arr}`]);
  const res2 = await h.invoke(s2, {});
  h.expectStatus(res2, 200);
  assert.deepEqual(res2.json.response.result, [1, { a: 2 }], h.show(res2));
});

test('the runtimes bring what OpenWhisk\'s do: require(\'openwhisk\') in node, import requests in python', async () => {
  const nodeName = h.uniqueName('owd_owmod');
  h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${nodeName}?overwrite=true`, {
    body: { exec: { kind: 'nodejs:20', code: "const openwhisk = require('openwhisk'); function main(){ return {t: typeof openwhisk, actions: typeof openwhisk({apihost: 'http://127.0.0.1:1', api_key: 'a:b'}).actions} }" } } }), 200);
  let r = await h.invoke(nodeName, {}, 'blocking=true&result=true');
  h.expectStatus(r, 200);
  assert.deepEqual(r.json, { t: 'function', actions: 'object' }, h.show(r));
  const pyName = h.uniqueName('owd_pyreq');
  h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${pyName}?overwrite=true`, {
    body: { exec: { kind: 'python:3', code: 'import requests\ndef main(a):\n    return {"v": requests.__version__ != ""}\n' } } }), 200);
  r = await h.invoke(pyName, {}, 'blocking=true&result=true');
  h.expectStatus(r, 200);
  assert.deepEqual(r.json, { v: true }, h.show(r));
  await h.deleteAction(nodeName).catch(() => {});
  await h.deleteAction(pyName).catch(() => {});
});
