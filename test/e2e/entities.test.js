// The entity model end to end with the official OpenWhisk JavaScript client (npm `openwhisk`):
// packages (with default parameters, publish, delete with force), bindings, actions inside
// packages, parameter precedence (package < binding < action < invoke), `final`, triggers,
// rules (active/inactive), namespaces, the public /whisk.system/utils package, and the error
// cases of the REST API for these entities (raw HTTP, asserting nothing is stored).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const openwhisk = h.dep('openwhisk');
const [pkg, bind, trig, rule, top] = h.uniqueNames('e2e_pkg', 'e2e_bind', 'e2e_trig', 'e2e_rule',
  'e2e_top');
const ECHO = 'function main(a){ return a }';
let ow;

before(() => {
  const env = h.stackEnv();
  ow = openwhisk({ apihost: env.apiHost, api_key: env.key, ignore_certs: true });
});

after(async () => {
  await ow.rules.delete({ name: rule }).catch(() => {});
  await ow.triggers.delete({ name: trig }).catch(() => {});
  await ow.actions.delete({ name: top }).catch(() => {});
  await ow.packages.delete({ name: bind }).catch(() => {});
  await ow.actions.delete({ name: `${pkg}/echo` }).catch(() => {});
  await ow.actions.delete({ name: `${pkg}/fixed` }).catch(() => {});
  await ow.packages.delete({ name: pkg }).catch(() => {});
});

async function call(what, p) {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${what} failed: ${e.message} (statusCode ${e.statusCode}, body ${JSON.stringify(e.error)})`);
  }
}

async function rejects(what, p, status) {
  await assert.rejects(p, (e) => {
    assert.equal(e.statusCode, status, `${what}: statusCode ${e.statusCode}, want ${status}: ${e.message}`);
    return true;
  });
}

test('packages: create with parameters, get, list, update bumps the version', async () => {
  const p = await call('packages.create', ow.packages.create({
    name: pkg, package: { parameters: [{ key: 'from', value: 'package' }, { key: 'p', value: 1 }], publish: false },
  }));
  assert.equal(p.name, pkg);
  assert.equal(p.namespace, 'guest');
  assert.equal(p.version, '0.0.1');
  assert.deepEqual(p.binding, {});
  await rejects('packages.create again', ow.packages.create({ name: pkg }), 409);
  const u = await call('packages.update', ow.packages.update({
    name: pkg, package: { parameters: [{ key: 'from', value: 'package' }, { key: 'p', value: 1 }], publish: true },
  }));
  assert.equal(u.version, '0.0.2');
  assert.equal(u.publish, true);
  const list = await call('packages.list', ow.packages.list());
  assert.ok(list.some((x) => x.name === pkg), `packages.list lacks ${pkg}: ${JSON.stringify(list)}`);
});

test('actions inside a package: created, listed by the package, invoked with package parameters', async () => {
  const a = await call('actions.create', ow.actions.create({
    name: `${pkg}/echo`, action: ECHO, params: { from: 'action', a: 2 },
  }));
  assert.equal(a.name, 'echo');
  assert.equal(a.namespace, `guest/${pkg}`);
  const p = await call('packages.get', ow.packages.get({ name: pkg }));
  assert.ok(Array.isArray(p.actions) && p.actions.some((x) => x.name === 'echo'),
    `package GET does not list its action: ${JSON.stringify(p)}`);
  const r = await call('invoke', ow.actions.invoke({ name: `${pkg}/echo`, blocking: true, result: true, params: { i: 3 } }));
  // package < action < invoke
  assert.deepEqual(r, { from: 'action', p: 1, a: 2, i: 3 });
});

test('bindings: parameters override the bound package; invoked through the binding', async () => {
  const b = await call('packages.create binding', ow.packages.create({
    name: bind,
    package: { binding: { namespace: 'guest', name: pkg }, parameters: [{ key: 'p', value: 'binding' }, { key: 'b', value: true }] },
  }));
  assert.deepEqual(b.binding, { namespace: 'guest', name: pkg });
  const r = await call('invoke through binding', ow.actions.invoke({ name: `${bind}/echo`, blocking: true, result: true }));
  // package < binding < action
  assert.equal(r.p, 'binding');
  assert.equal(r.b, true);
  assert.equal(r.from, 'action');
  assert.equal(r.a, 2);
  // a binding of a missing package is refused, nothing stored
  const missing = h.uniqueName('e2e_nobind');
  const res = await h.api('PUT', `/namespaces/_/packages/${missing}`,
    { body: { binding: { namespace: 'guest', name: h.uniqueName('no_such_pkg') } } });
  assert.ok(res.status >= 400 && res.status < 500, `binding to a missing package: ${h.show(res)}`);
  h.expectError(res, res.status);
  h.expectError(await h.api('GET', `/namespaces/_/packages/${missing}`), 404);
});

test('final: true makes the action parameters unoverridable', async () => {
  await call('actions.create final', ow.actions.create({
    name: `${pkg}/fixed`, action: ECHO, params: { locked: 'yes' }, annotations: { final: true },
  }));
  const ok = await call('invoke final', ow.actions.invoke({ name: `${pkg}/fixed`, blocking: true, result: true, params: { other: 1 } }));
  assert.equal(ok.locked, 'yes');
  const res = await h.api('POST', `/namespaces/_/actions/${pkg}/fixed?blocking=true`, { body: { locked: 'no' } });
  h.expectError(res, 400);
});

test('a package with actions is not deleted without force (409), and is with force', async () => {
  const res = await h.api('DELETE', `/namespaces/_/packages/${pkg}`);
  h.expectError(res, 409);
  await call('packages.get after 409', ow.packages.get({ name: pkg }));
});

test('triggers: create, get, update, list', async () => {
  const t = await call('triggers.create', ow.triggers.create({ name: trig, trigger: { parameters: [{ key: 't', value: 1 }] } }));
  assert.equal(t.name, trig);
  assert.equal(t.version, '0.0.1');
  const u = await call('triggers.update', ow.triggers.update({ name: trig, trigger: { parameters: [{ key: 't', value: 2 }] } }));
  assert.equal(u.version, '0.0.2');
  const g = await call('triggers.get', ow.triggers.get({ name: trig }));
  assert.deepEqual(g.parameters, [{ key: 't', value: 2 }]);
  const list = await call('triggers.list', ow.triggers.list());
  assert.ok(list.some((x) => x.name === trig), `triggers.list lacks ${trig}`);
});

test('rules: create (active), disable, enable, list; trigger and action shown as {path, name}', async () => {
  await call('actions.create top', ow.actions.create({ name: top, action: ECHO }));
  const r = await call('rules.create', ow.rules.create({ name: rule, trigger: trig, action: top }));
  assert.equal(r.name, rule);
  assert.deepEqual(r.trigger, { path: 'guest', name: trig });
  assert.deepEqual(r.action, { path: 'guest', name: top });
  let g = await call('rules.get', ow.rules.get({ name: rule }));
  assert.equal(g.status, 'active');
  await call('rules.disable', ow.rules.disable({ name: rule }));
  g = await call('rules.get', ow.rules.get({ name: rule }));
  assert.equal(g.status, 'inactive');
  await call('rules.enable', ow.rules.enable({ name: rule }));
  g = await call('rules.get', ow.rules.get({ name: rule }));
  assert.equal(g.status, 'active');
  const list = await call('rules.list', ow.rules.list());
  assert.ok(list.some((x) => x.name === rule), `rules.list lacks ${rule}`);
  // a rule to a missing trigger is refused, nothing stored
  const bad = h.uniqueName('e2e_badrule');
  const res = await h.api('PUT', `/namespaces/_/rules/${bad}`, { body: { trigger: h.uniqueName('no_trig'), action: top } });
  assert.ok(res.status >= 400 && res.status < 500, `rule to a missing trigger: ${h.show(res)}`);
  h.expectError(res, res.status);
  h.expectError(await h.api('GET', `/namespaces/_/rules/${bad}`), 404);
});

test('namespaces and limits', async () => {
  const ns = await call('namespaces.list', ow.namespaces.list());
  assert.ok(ns.includes('guest'), `namespaces: ${JSON.stringify(ns)}`);
  const res = h.expectStatus(await h.api('GET', '/namespaces/_/limits'), 200);
  for (const k of ['concurrentInvocations', 'invocationsPerMinute', 'firesPerMinute']) {
    assert.ok(Number.isInteger(res.json[k]) && res.json[k] > 0, `limits.${k}: ${h.show(res)}`);
  }
});

test('/whisk.system/utils is public: readable and invocable from the guest namespace', async () => {
  const p = await call('packages.get utils', ow.packages.get({ name: '/whisk.system/utils' }));
  assert.equal(p.publish, true);
  const names = (p.actions || []).map((a) => a.name).sort();
  for (const n of ['echo', 'sort']) assert.ok(names.includes(n), `utils lacks ${n}: ${names}`);
  const e = await call('invoke utils/echo', ow.actions.invoke({ name: '/whisk.system/utils/echo', blocking: true, result: true, params: { x: 1 } }));
  assert.equal(e.x, 1);
  const s = await call('invoke utils/sort', ow.actions.invoke({ name: '/whisk.system/utils/sort', blocking: true, result: true, params: { lines: ['b', 'c', 'a'] } }));
  assert.deepEqual(s.lines, ['a', 'b', 'c']);
  assert.equal(s.length, 3);
  // writes into /whisk.system are refused
  h.expectError(await h.api('PUT', '/namespaces/whisk.system/actions/mine', { body: { exec: h.nodeAction(ECHO) } }), 403);
});

test('bad input for entities: each refused with a message, nothing stored', async () => {
  const cases = [
    ['a package inside a package', 'PUT', `/namespaces/_/packages/${pkg}/inner`, {}, [400, 404]],
    ['wrong type for parameters', 'PUT', `/namespaces/_/packages/${h.uniqueName('bp')}`, { parameters: 'nope' }, [400]],
    ['wrong type for publish', 'PUT', `/namespaces/_/triggers/${h.uniqueName('bt')}`, { publish: 'yes' }, [400]],
    ['unknown kind', 'PUT', `/namespaces/_/actions/${h.uniqueName('bk')}`, { exec: { kind: 'cobol:1', code: 'x' } }, [400]],
    ['timeout out of range', 'PUT', `/namespaces/_/actions/${h.uniqueName('bl')}`,
      { exec: h.nodeAction(ECHO), limits: { timeout: 50 } }, [400]],
    ['memory out of range', 'PUT', `/namespaces/_/actions/${h.uniqueName('bm')}`,
      { exec: h.nodeAction(ECHO), limits: { memory: 4096 } }, [400]],
    ['an action in a missing package', 'PUT', `/namespaces/_/actions/${h.uniqueName('nopkg')}/a`, { exec: h.nodeAction(ECHO) }, [400, 404]],
    ['a rule without an action', 'PUT', `/namespaces/_/rules/${h.uniqueName('br')}`, { trigger: trig }, [400]],
    ['a foreign namespace', 'PUT', `/namespaces/not_mine/triggers/${h.uniqueName('bf')}`, {}, [403]],
    ['a name that fails the regex', 'PUT', '/namespaces/_/triggers/-bad', {}, [400]],
  ];
  for (const [what, method, path, body, statuses] of cases) {
    const res = await h.api(method, path, { body });
    assert.ok(statuses.includes(res.status), `${what}: want ${statuses}, ${h.show(res)}`);
    h.expectError(res, res.status);
    if (method === 'PUT' && res.status !== 403) {
      const g = await h.api('GET', path);
      assert.ok(g.status >= 400, `${what}: stored anyway: ${h.show(g)}`);
    }
  }
  // lists: limit over 200 is 400
  h.expectError(await h.api('GET', '/namespaces/_/triggers?limit=201'), 400);
  const c = h.expectStatus(await h.api('GET', '/namespaces/_/triggers?count=true'), 200);
  assert.ok(Number.isInteger(c.json.triggers), `count: ${h.show(c)}`);
});

test('delete with force removes the package and its actions; rules and triggers delete', async () => {
  await call('rules.delete', ow.rules.delete({ name: rule }));
  await call('triggers.delete', ow.triggers.delete({ name: trig }));
  await call('packages.delete binding', ow.packages.delete({ name: bind }));
  const res = h.expectStatus(await h.api('DELETE', `/namespaces/_/packages/${pkg}?force=true`), 200);
  assert.equal(res.json.name, pkg);
  h.expectError(await h.api('GET', `/namespaces/_/packages/${pkg}`), 404);
  h.expectError(await h.api('GET', `/namespaces/_/actions/${pkg}/echo`), 404);
});
