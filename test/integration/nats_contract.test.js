// The NATS contract for integrators (schemas/nats/*.schema.json, rendered into docs/NATS.md)
// checked against a real run: every event on sq.evt.> during the test, and the replies of the
// public request subjects, are decoded (msgpack) and validated against their JSON Schema
// (draft 2020-12, ajv). The requests the test sends are validated too, so a schema cannot
// demand what the services do not need. Every message schema must be exercised at least
// once; a deliberately wrong message must fail; docs/NATS.md must be what ops/render-schemas
// makes of the schemas.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('../harness/squall.js');

const SCHEMA_DIR = path.join(h.ROOT, 'schemas', 'nats');
const URN = 'urn:squall:nats:';
const SERVICES = ['gateway', 'auth', 'registry', 'triggers', 'scheduler', 'invoker', 'activations'];

let ajv = null;
const used = new Set();       // schema names that validated at least one real message
const events = [];            // {subject, value} of everything seen on sq.evt.>
let evtSub = null;

function loadSchemas() {
  const Ajv2020 = h.dep('ajv/dist/2020').default || h.dep('ajv/dist/2020');
  const a = new Ajv2020({ allErrors: true, strict: true });
  a.addVocabulary(['x-subjects', 'x-kind', 'x-direction', 'x-source', 'x-reply', 'x-encoding']);
  const names = [];
  for (const f of fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json')).sort()) {
    const s = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), 'utf8'));
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema', `${f}: not draft 2020-12`);
    assert.equal(s.$id, URN + f.replace('.schema.json', ''), `${f}: $id`);
    a.addSchema(s);
    names.push(f.replace('.schema.json', ''));
  }
  for (const n of names) assert.ok(a.getSchema(URN + n), `schema ${n} does not compile`);
  return { a, names };
}

// Validates value against schema `name`; fails with the validator's errors and the message.
function check(name, value, what) {
  const v = ajv.getSchema(URN + name);
  assert.ok(v, `no schema ${name}`);
  if (!v(value)) {
    assert.fail(`${what}: does not match schemas/nats/${name}.schema.json: ` +
      `${JSON.stringify(v.errors.slice(0, 5))}\nmessage: ${JSON.stringify(value).slice(0, 1500)}`);
  }
  used.add(name);
}

// The reply of a request must match one of the named schemas (the wire error included when asked).
function checkOneOf(names, value, what) {
  for (const n of names) {
    if (ajv.getSchema(URN + n)(value)) {
      used.add(n);
      return n;
    }
  }
  // fail with the first schema's errors
  check(names[0], value, what);
  return names[0];
}

async function request(subject, reqSchema, body, replySchemas, timeoutMs = 10000) {
  if (reqSchema) check(reqSchema, body, `request to ${subject}`);
  const { value } = await h.natsRequest(subject, body, timeoutMs);
  const got = checkOneOf(replySchemas, value, `reply of ${subject}`);
  return { value, got };
}

function newId() {
  return crypto.randomBytes(16).toString('hex');
}

// Waits until an event on sq.evt.> matches pred.
async function eventMatching(pred, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = events.find(pred);
    if (e) return e;
    if (Date.now() > deadline) assert.fail(`no event ${what} within ${timeoutMs} ms (saw ${events.length}: ${events.slice(-5).map((x) => x.subject).join(', ')})`);
    await h.sleep(50);
  }
}

const [action, sequence, trigger, rule, feedTrigger, feedRule] = h.uniqueNames('nc_echo', 'nc_seq',
  'nc_t', 'nc_r', 'nc_ft', 'nc_fr');
let ns = null;      // the guest namespace
let identity = null;

before(async () => {
  ({ a: ajv } = loadSchemas());
  const nc = await h.nats();
  evtSub = nc.subscribe('sq.evt.>');
  (async () => {
    for await (const m of evtSub) {
      let value;
      try {
        value = h.unpack(m.data);
      } catch (e) {
        value = { undecodable: e.message };
      }
      events.push({ subject: m.subject, value });
    }
  })();
  await nc.flush();
  // who the guest key is (validated in its own test below)
  identity = (await h.natsRequest('sq.auth.verify', { key: h.stackEnv().key })).value;
  assert.ok(identity && identity.namespace, `sq.auth.verify answered ${JSON.stringify(identity)}`);
  ns = identity.namespace;
});

after(async () => {
  await h.api('DELETE', `/namespaces/_/rules/${rule}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/rules/${feedRule}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/triggers/${trigger}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/triggers/${feedTrigger}`).catch(() => {});
  await h.deleteAction(sequence).catch(() => {});
  await h.deleteAction(action).catch(() => {});
  if (evtSub) evtSub.unsubscribe();
  await h.closeNats();
});

test('docs/NATS.md is what ops/render-schemas makes of schemas/nats', () => {
  execFileSync('python3', [path.join(h.ROOT, 'ops', 'render-schemas'), '--check'], { stdio: 'pipe' });
});

test('the schemas reject wrong messages (the check can fail)', () => {
  const good = {
    activationId: 'a'.repeat(32), namespace: 'guest', name: 'x', version: '0.0.1', subject: 's',
    start: 1, end: 2, duration: 1, response: { status: 'success', statusCode: 0, success: true },
    annotations: [{ key: 'path', value: 'guest/x' }], publish: false,
  };
  const v = ajv.getSchema(URN + 'evt.activation');
  assert.equal(v(good), true, JSON.stringify(v.errors));
  const wrong = [
    ['no activationId', (m) => delete m.activationId],
    ['statusCode as a string', (m) => { m.response.statusCode = '0'; }],
    ['an unknown status', (m) => { m.response.status = 'fine'; }],
    ['an undocumented field', (m) => { m.extra = 1; }],
    ['a short activation id', (m) => { m.activationId = 'abc'; }],
    ['waitTime as a string', (m) => { m.annotations.push({ key: 'waitTime', value: '3' }); }],
    ['the result in an event', (m) => { m.response.result = {}; }],
  ];
  for (const [why, mutate] of wrong) {
    const m = structuredClone(good);
    mutate(m);
    assert.equal(v(m), false, `an activation event with ${why} passed validation`);
  }
  const err = ajv.getSchema(URN + 'error');
  assert.equal(err({ error: { code: 404, message: 'x' } }), true);
  assert.equal(err({ error: { code: '404', message: 'x' } }), false);
  assert.equal(err({ error: 'x' }), false);
  const inv = ajv.getSchema(URN + 'sched.invoke.request');
  assert.equal(inv({ id: newId(), ns: 'guest', name: 'x' }), false, 'an invoke without subject passed');
});

test('health of every service', async () => {
  for (const svc of SERVICES) {
    check('health.request', {}, 'health request');
    const { value } = await request(`sq.${svc}.health`, null, {}, ['health.reply']);
    assert.equal(value.service, svc);
  }
});

test('metrics of every service', async () => {
  for (const svc of SERVICES) {
    check('metrics.request', {}, 'metrics request');
    const { value } = await request(`sq.${svc}.metrics`, null, {}, ['metrics.reply']);
    assert.equal(value.service, svc);
    assert.ok(value.families.length > 0, `${svc}: no metric family`);
  }
});

test('auth: verify and limits', async () => {
  const env = h.stackEnv();
  const me = await request('sq.auth.verify', 'auth.verify.request', { key: env.key }, ['auth.verify.reply']);
  assert.equal(me.value.namespace, ns);
  await request('sq.auth.limits', 'auth.limits.request', { ns }, ['auth.limits.reply']);
  const bad = await request('sq.auth.verify', 'auth.verify.request', { key: `${env.key.split(':')[0]}:${'0'.repeat(64)}` }, ['error']);
  assert.equal(bad.value.error.code, 401);
  const decode = await request('sq.auth.limits', null, { nope: 1 }, ['error']);
  assert.equal(decode.value.error.code, 400);
});

test('registry: put, get, resolve, list, rulestate; entity events', async () => {
  const put = (kind, name, entity, overwrite = false) => request('sq.registry.put', 'registry.put.request',
    { ns, name, kind, subject: identity.subject, overwrite, entity }, ['registry.entity.reply', 'error']);
  const entity = { exec: { kind: 'nodejs:20', code: 'function main(a){return Object.assign({echoed: true}, a)}' },
    parameters: [{ key: 'p', value: 1 }], annotations: [{ key: 'a', value: 'b' }] };
  let r = await put('action', action, entity);
  assert.equal(r.got, 'registry.entity.reply', JSON.stringify(r.value));
  // a put's answer carries the action's new revision: the gateway sends it with the writer's
  // next invokes (min_rev), so a scheduler that has not yet seen the change event does not
  // run the old code from its cache (read your writes)
  const rev1 = Number(r.value.rev);
  assert.ok(rev1 > 0, `the put's answer has no revision: ${r.value.rev}`);
  r = await put('action', action, entity, true);
  const rev2 = Number(r.value.rev);
  assert.ok(rev2 > rev1, `an overwrite's revision ${r.value.rev} is not past ${rev1}`);
  r = await request('sq.registry.resolve', 'registry.ref.request', { ns, name: action, kind: 'action' }, ['registry.entity.reply']);
  assert.equal(Number(r.value.rev), rev2, 'resolve gives the revision the put answered');
  r = await put('trigger', trigger, { parameters: [{ key: 'from', value: 'trigger' }] });
  assert.equal(r.got, 'registry.entity.reply', JSON.stringify(r.value));
  r = await put('rule', rule, { trigger: `/_/${trigger}`, action: `/_/${action}` });
  assert.equal(r.got, 'registry.entity.reply', JSON.stringify(r.value));
  r = await put('action', action, { exec: { kind: 'nodejs:20', code: 'x' } });
  assert.equal(r.got, 'error');
  assert.equal(r.value.error.code, 409);

  for (const [kind, name] of [['action', action], ['trigger', trigger], ['rule', rule]]) {
    r = await request('sq.registry.get', 'registry.ref.request', { ns, name, kind, code: false }, ['registry.entity.reply']);
    assert.equal(r.value.name, name);
  }
  r = await request('sq.registry.get', 'registry.ref.request', { ns: 'whisk.system', name: 'utils', kind: 'package', shared: true }, ['registry.entity.reply']);
  assert.ok(Array.isArray(r.value.actions), JSON.stringify(r.value));
  r = await request('sq.registry.resolve', 'registry.ref.request', { ns, name: action, kind: 'action' }, ['registry.entity.reply']);
  assert.ok(r.value.exec.code, 'resolve carries the code');
  r = await request('sq.registry.resolve', 'registry.ref.request', { ns, name: trigger, kind: 'trigger' }, ['registry.entity.reply']);
  assert.ok(r.value.rules && r.value.rules[`${ns}/${rule}`], JSON.stringify(r.value));
  r = await request('sq.registry.get', 'registry.ref.request', { ns, name: h.uniqueName('missing'), kind: 'action' }, ['error']);
  assert.equal(r.value.error.code, 404);
  for (const kind of ['action', 'package', 'trigger', 'rule']) {
    await request('sq.registry.list', 'registry.list.request', { ns, kind, limit: 5 }, ['registry.list.reply']);
  }
  r = await request('sq.registry.list', 'registry.list.request', { ns, kind: 'action', count: true }, ['registry.list.reply']);
  assert.equal(typeof r.value.count, 'number');
  r = await request('sq.registry.list', 'registry.list.request', { ns, kind: 'package', public: true }, ['registry.list.reply']);

  for (const status of ['inactive', 'active']) {
    r = await request('sq.registry.rulestate', 'registry.put.request', { ns, name: rule, kind: 'rule', entity: { status } }, ['registry.entity.reply']);
    assert.equal(r.value.status, status);
  }
  const e = await eventMatching((x) => x.subject.startsWith('sq.evt.entity.') && x.value.name === rule && x.value.op === 'put', `for rule ${rule}`);
  check('evt.entity', e.value, e.subject);
});

test('registry: API routes put, get, delete; route events', async () => {
  const webAction = h.uniqueName('nc_web');
  const basepath = `/${h.uniqueName('nc_api')}`;
  await h.putAction(webAction, h.nodeAction('function main(a){return a}'), { annotations: [{ key: 'web-export', value: true }] }, '?overwrite=true');
  let r;
  try {
    const route = { relpath: '/items/{id}', method: 'get', action_ns: ns, action_pkg: '', action_name: webAction, response_type: 'json' };
    r = await request('sq.registry.route_put', 'registry.route.put.request', { ns, basepath, api_name: 'NC', routes: [route] },
      ['registry.route.list.reply']);
    assert.equal(r.value.items.length, 1, JSON.stringify(r.value));
    assert.equal(r.value.items[0].api_name, 'NC');
    // a route to an action that is not a web action is refused
    r = await request('sq.registry.route_put', 'registry.route.put.request', { ns, basepath, routes: [{ ...route, action_name: action }] },
      ['error']);
    assert.equal(r.value.error.code, 400, JSON.stringify(r.value));
    r = await request('sq.registry.route_get', 'registry.route.query.request', { ns, basepath }, ['registry.route.list.reply']);
    assert.deepEqual(r.value.items.map((x) => x.relpath), ['/items/{id}']);
    r = await request('sq.registry.route_delete', 'registry.route.query.request', { ns, basepath }, ['registry.route.list.reply']);
    assert.equal(r.value.count, 1);
    r = await request('sq.registry.route_delete', 'registry.route.query.request', { ns, basepath }, ['error']);
    assert.equal(r.value.error.code, 404);
    const e = await eventMatching((x) => x.subject.endsWith('.route') && x.value.name === basepath && x.value.op === 'delete', `for API ${basepath}`);
    check('evt.entity', e.value, e.subject);
  } finally {
    await h.deleteAction(webAction).catch(() => {});
  }
});

test('invoke over sq.sched.invoke, blocking and not; records on sq.evt.activation and sq.activations.*', async () => {
  const env = h.stackEnv();
  const base = { ns, name: action, subject: identity.subject, key: env.key, caller_ns: ns, shared: false, cause: null };
  // A plain action's blocking answer comes from the invoker, which may answer only the
  // gateway's invocation inbox (NATS permissions): over NATS the ops user invokes without
  // blocking and reads the record; the sequence below is answered by the scheduler itself.
  const blockingId = newId();
  let r = await request('sq.sched.invoke', 'sched.invoke.request', { ...base, id: blockingId, params: { hello: 'world' }, blocking: false },
    ['sched.invoke.reply']);
  assert.equal(r.value.activationId, blockingId);
  await h.pollActivation(blockingId, 15000);
  r = await request('sq.activations.get', 'activations.query.request', { ns, id: blockingId }, ['activation']);
  assert.equal(r.value.response.result.hello, 'world', JSON.stringify(r.value));

  const queuedId = newId();
  r = await request('sq.sched.invoke', 'sched.invoke.request', { ...base, id: queuedId, params: {}, blocking: false },
    ['sched.invoke.reply']);
  assert.deepEqual(r.value, { activationId: queuedId });

  r = await request('sq.sched.invoke', 'sched.invoke.request', { ...base, id: newId(), name: h.uniqueName('missing'), blocking: false }, ['error']);
  assert.equal(r.value.error.code, 404);

  // a trigger fire's rules as one request (header Sq-Batch): one outcome per rule, in order
  const batchId = newId();
  const batch = { subject: identity.subject, key: env.key, params: { via: 'batch' }, caller_ns: ns, cause: null,
    rules: [{ id: batchId, ns, name: action, shared: false }, { id: newId(), ns, name: h.uniqueName('missing'), shared: false }] };
  check('sched.invoke.batch.request', batch, 'invoke batch');
  const { value: outcomes } = await h.natsRequest('sq.sched.invoke', batch, 10000, { 'Sq-Batch': '1' });
  check('sched.invoke.outcomes.reply', outcomes, 'reply of an invoke batch');
  assert.equal(outcomes.rules.length, 2, JSON.stringify(outcomes));
  assert.equal(outcomes.rules[0].code, 0, JSON.stringify(outcomes));
  assert.equal(outcomes.rules[0].activationId, batchId);
  assert.equal(outcomes.rules[1].code, 404, JSON.stringify(outcomes));
  const rec = await h.pollActivation(batchId, 15000);
  assert.equal(rec.response.result.via, 'batch', JSON.stringify(rec));

  // over REST too: the gateway's own requests end in the same events
  const rest = await h.invoke(action, { via: 'rest' });
  h.expectStatus(rest, 200);

  // a sequence: the scheduler writes its record, the invoker its component's
  const sq = await request('sq.registry.put', 'registry.put.request',
    { ns, name: sequence, kind: 'action', subject: identity.subject, entity: { exec: { kind: 'sequence', components: [`/${ns}/${action}`] } } },
    ['registry.entity.reply']);
  assert.deepEqual(sq.value.exec.components, [`/${ns}/${action}`]);
  const seqId = newId();
  r = await request('sq.sched.invoke', 'sched.invoke.request', { ...base, id: seqId, name: sequence, params: { s: 1 }, blocking: true, wait_ms: 20000 },
    ['sched.invoke.reply'], 30000);
  check('activation', r.value, 'blocking sequence reply');
  assert.equal(r.value.logs.length, 1, JSON.stringify(r.value));
  const component = r.value.logs[0];
  await h.pollActivation(component, 15000); // stored (the writer batches)
  r = await request('sq.activations.get', 'activations.query.request', { ns, id: component }, ['activation']);
  const ann = Object.fromEntries(r.value.annotations.map((x) => [x.key, x.value]));
  assert.equal(ann.causedBy, 'sequence', JSON.stringify(r.value.annotations));
  assert.equal(ann.cause, seqId, JSON.stringify(r.value.annotations));

  for (const id of [blockingId, queuedId, rest.json.activationId, seqId, component]) {
    const e = await eventMatching((x) => x.subject === `sq.evt.activation.${ns}` && x.value.activationId === id, `activation ${id}`, 20000);
    check('evt.activation', e.value, e.subject);
  }
  r = await request('sq.activations.get', 'activations.query.request', { ns, id: blockingId }, ['activation']);
  assert.equal(r.value.activationId, blockingId);
  r = await request('sq.activations.logs', 'activations.query.request', { ns, id: blockingId }, ['activations.logs.reply']);
  assert.ok(Array.isArray(r.value.logs));
  r = await request('sq.activations.list', 'activations.query.request', { ns, name: action, limit: 5 }, ['activations.list.reply']);
  assert.ok(r.value.items.length >= 1);
  r = await request('sq.activations.list', 'activations.query.request', { ns, name: action, limit: 2, docs: true }, ['activations.list.reply']);
  assert.ok(r.value.items.every((x) => x.response && 'result' in x.response), 'docs gives whole records');
  r = await request('sq.activations.list', 'activations.query.request', { ns, count: true }, ['activations.list.reply']);
  assert.equal(typeof r.value.count, 'number');
  r = await request('sq.activations.get', 'activations.query.request', { ns, id: 'nothex' }, ['error']);
  assert.equal(r.value.error.code, 400);
  r = await request('sq.activations.get', 'activations.query.request', { ns, id: newId() }, ['error']);
  assert.equal(r.value.error.code, 404);
});

test('fires: sq.trigger.fire and sq.fire.<ns>.<trigger>; sq.evt.trigger and the records', async () => {
  const env = h.stackEnv();
  const fireId = newId();
  let r = await request('sq.trigger.fire', 'trigger.fire.request',
    { id: fireId, ns, name: trigger, subject: identity.subject, key: env.key, caller_ns: ns, payload: { via: 'sq.trigger.fire' } },
    ['trigger.fire.reply']);
  assert.deepEqual(r.value, { activationId: fireId });

  const payload = { via: 'sq.fire' };
  check('fire.payload', payload, 'sq.fire payload');
  r = await request(`sq.fire.${ns}.${trigger}`, null, payload, ['trigger.fire.reply']);
  const natsFireId = r.value.activationId;
  r = await request(`sq.fire.${ns}.${trigger}`, null, Buffer.from('[1,2]'), ['error']);
  assert.equal(r.value.error.code, 400);
  r = await request(`sq.fire.${ns}.${h.uniqueName('missing')}`, null, {}, ['error']);
  assert.equal(r.value.error.code, 404);

  for (const id of [fireId, natsFireId]) {
    const e = await eventMatching((x) => x.subject === `sq.evt.trigger.${ns}.${trigger}` && x.value.activationId === id, `fire ${id}`);
    check('evt.trigger', e.value, e.subject);
    assert.equal(e.value.rules.length, 1, JSON.stringify(e.value));
    const ruleAct = e.value.rules[0].activationId;
    assert.ok(ruleAct, JSON.stringify(e.value));
    for (const want of [id, ruleAct]) {
      const a = await eventMatching((x) => x.subject === `sq.evt.activation.${ns}` && x.value.activationId === want, `activation ${want}`, 20000);
      check('evt.activation', a.value, a.subject);
    }
    r = await request('sq.activations.get', 'activations.query.request', { ns, id: ruleAct }, ['activation']);
    const ann = Object.fromEntries(r.value.annotations.map((x) => [x.key, x.value]));
    assert.equal(ann.cause, id, `the rule's activation names the trigger activation: ${JSON.stringify(r.value.annotations)}`);
    r = await request('sq.activations.get', 'activations.query.request', { ns, id }, ['activation']);
    assert.equal(r.value.logs.length, 1);
  }

  // no active rule: {activationId, rules: 0}
  await request('sq.registry.rulestate', 'registry.put.request', { ns, name: rule, kind: 'rule', entity: { status: 'inactive' } }, ['registry.entity.reply']);
  r = await request(`sq.fire.${ns}.${trigger}`, null, {}, ['trigger.fire.reply']);
  assert.equal(r.value.rules, 0);
  const none = await eventMatching((x) => x.subject === `sq.evt.trigger.${ns}.${trigger}` && x.value.activationId === null, 'fire without rules');
  check('evt.trigger', none.value, none.subject);
  await request('sq.registry.rulestate', 'registry.put.request', { ns, name: rule, kind: 'rule', entity: { status: 'active' } }, ['registry.entity.reply']);
});

test('the NATS feed: a message on ext.<ns>.> fires with the payload the schema describes', async () => {
  const env = h.stackEnv();
  const openwhisk = h.dep('openwhisk');
  const ow = openwhisk({ apihost: env.apiHost, api_key: env.key, namespace: '_' });
  const subject = `ext.${ns}.${h.uniqueName('contract')}`;
  await ow.triggers.create({ name: feedTrigger });
  await ow.rules.create({ name: feedRule, action, trigger: feedTrigger });
  await ow.feeds.create({ name: '/whisk.system/nats/subscribe', trigger: feedTrigger, params: { subject } });
  try {
    const nc = await h.nats();
    const message = { order: 7 };
    // the subscription follows the trigger change asynchronously: publish until it fires
    const pump = setInterval(() => nc.publish(subject, h.pack(message)), 200);
    let e;
    try {
      e = await eventMatching((x) => x.subject === `sq.evt.trigger.${ns}.${feedTrigger}` && x.value.payload && x.value.payload.order === 7, 'of the feed', 20000);
    } finally {
      clearInterval(pump);
    }
    check('feed.message', message, subject);
    check('evt.trigger', e.value, e.subject);
    const text = eventMatching((x) => x.subject === `sq.evt.trigger.${ns}.${feedTrigger}` && x.value.payload && x.value.payload.message === 'plain', 'of a text message', 10000);
    nc.publish(subject, Buffer.from('plain'));
    const t = await text;
    check('feed.message', t.value.payload, 'a text message as the trigger gets it');
  } finally {
    await ow.feeds.delete({ name: '/whisk.system/nats/subscribe', trigger: feedTrigger }).catch(() => {});
  }
});

test('sq.evt.auth after an admin change', async () => {
  const token = h.stackEnv().vars.SQ_ADMIN_TOKEN;
  assert.ok(token, `${h.stackEnv().file} sets no SQ_ADMIN_TOKEN`);
  const user = h.uniqueName('ncuser').replace(/[^a-z0-9]/gi, '');
  const made = (await h.natsRequest('sq.auth.admin', { token, op: 'user.create', subject: user })).value;
  assert.ok(!made.error, JSON.stringify(made));
  const gone = (await h.natsRequest('sq.auth.admin', { token, op: 'user.delete', subject: user })).value;
  assert.ok(!gone.error, JSON.stringify(gone));
  for (const op of ['key', 'delete']) {
    const e = await eventMatching((x) => x.subject === 'sq.evt.auth' && x.value.subject === user && x.value.op === op, `auth ${op} of ${user}`);
    check('evt.auth', e.value, e.subject);
  }
});

test('every event seen during the run matches its schema; every schema was exercised', async () => {
  await h.sleep(500);
  const bySubject = [
    [/^sq\.evt\.activation\./, 'evt.activation'],
    [/^sq\.evt\.trigger\./, 'evt.trigger'],
    [/^sq\.evt\.entity\./, 'evt.entity'],
    [/^sq\.evt\.auth$/, 'evt.auth'],
    [/^sq\.evt\.log\./, 'evt.log'],
  ];
  assert.ok(events.length > 0, 'no event seen on sq.evt.>');
  for (const e of events) {
    const m = bySubject.find(([re]) => re.test(e.subject));
    assert.ok(m, `an event on ${e.subject} that no schema describes`);
    check(m[1], e.value, e.subject);
  }
  const { names } = loadSchemas();
  const unused = names.filter((n) => n !== 'common' && !used.has(n));
  assert.deepEqual(unused, [], `schemas no captured message exercised: ${unused.join(', ')}`);
});
