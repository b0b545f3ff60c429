// Tenant isolation between namespaces (issue 9, items 3 and 4), against the real stack with
// subjects made by squall-admin:
// - keys: tenant A invokes tenant B's published action directly, through a binding, as a
//   sequence component and from a rule; B's code (which even asks for a key with
//   provide-api-key: true) never sees A's key in __OW_API_KEY; the record is stored in A's
//   namespace with the action's full path ("B/pkg/action") in its `path` annotation: A reads
//   it, B gets 404. A new action gets provide-api-key: false; A's own action with
//   provide-api-key: true gets A's key.
// - users: `user block` stops an alarm rule (every second) within a second and `user unblock`
//   resumes it; `user delete` stops it for good and purges the namespace, so the same name
//   made again starts with no entities, no activations and no alarm.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness/squall.js');

const A = h.uniqueName('tnA');
const B = h.uniqueName('tnB');
const C = h.uniqueName('tnC');   // blocked and unblocked
const D = h.uniqueName('tnD');   // deleted and made again
const PKG = 'pub';
const made = new Set();
const keys = {};

// ---------------------------------------------------------------- squall-admin

function admin(args) {
  const env = h.stackEnv();
  const build = env.vars.SQ_BUILD_DIR || process.env.SQ_BUILD_DIR;
  const bin = path.join(build || '', 'ops', 'squall-admin');
  assert.ok(fs.existsSync(bin), `no ${bin}: not built`);
  const childEnv = { PATH: process.env.PATH || '/usr/bin:/bin', SQ_NATS_URL: env.natsUrl, SQ_ADMIN_TOKEN: env.vars.SQ_ADMIN_TOKEN };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) childEnv[k] = process.env[k];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: childEnv, timeout: 20000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`squall-admin ${args.join(' ')}: ${err.message} ${stderr}`));
      resolve(stdout.length ? JSON.parse(stdout) : {});
    });
  });
}

async function makeUser(name) {
  const u = await admin(['user', 'create', name]);
  assert.equal(u.namespace, name, JSON.stringify(u));
  made.add(name);
  keys[name] = u.key;
  return u.key;
}

// REST as a subject: as(name, method, path, body)
async function as(name, method, p, body) {
  return h.api(method, p, { key: keys[name], body });
}

async function ok(name, method, p, body) {
  return h.expectStatus(await as(name, method, p, body), 200).json;
}

// the code of B's published action: its whole __OW_ environment, and who it thinks it is
const ENV_CODE = `function main(a) {
  const env = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('__OW_')) env[k] = process.env[k];
  return { env, hasKey: 'api_key' in a || '__OW_API_KEY' in process.env };
}`;

// An activation of caller's, read by its id: 200 for caller, 404 for the other one.
async function checkCallerRecord(caller, other, id, wantPath, ctx) {
  let res;
  for (let i = 0; i < 100; i++) {
    res = await as(caller, 'GET', `/namespaces/_/activations/${id}`);
    if (res.status === 200) break;
    await h.sleep(100);
  }
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.equal(rec.namespace, caller, `${ctx}: the record is not in the caller's namespace: ${JSON.stringify(rec).slice(0, 800)}`);
  assert.equal(h.annotation(rec, 'path'), wantPath, `${ctx}: path annotation: ${JSON.stringify(rec.annotations)}`);
  h.expectError(await as(other, 'GET', `/namespaces/_/activations/${id}`), 404);
  h.expectError(await as(other, 'GET', `/namespaces/${caller}/activations/${id}`), 403);
  const listed = await ok(other, 'GET', '/namespaces/_/activations?limit=200');
  assert.ok(!listed.some((r) => r.activationId === id), `${ctx}: the owner of the code lists the caller's activation`);
  return rec;
}

function assertNoKey(result, ctx) {
  assert.ok(result && result.env, `${ctx}: no env in the result: ${JSON.stringify(result)}`);
  assert.equal(result.env.__OW_API_KEY, undefined, `${ctx}: another namespace's code got the caller's key: ${JSON.stringify(result.env)}`);
  assert.equal(result.hasKey, false, `${ctx}: ${JSON.stringify(result)}`);
  for (const v of Object.values(result.env)) assert.ok(!String(v).includes(keys[A].split(':')[1]), `${ctx}: A's secret in the env`);
}

before(async () => {
  for (const n of [A, B, C, D]) await makeUser(n);
  // B publishes a package whose action asks for a key
  await ok(B, 'PUT', `/namespaces/_/packages/${PKG}`, { publish: true });
  await ok(B, 'PUT', `/namespaces/_/actions/${PKG}/envdump`, {
    exec: { kind: 'nodejs:20', code: ENV_CODE }, annotations: [{ key: 'provide-api-key', value: true }],
  });
});

after(async () => {
  for (const n of made) await admin(['user', 'delete', n]).catch(() => {});
  await h.closeNats();
});

// ---------------------------------------------------------------- keys and records

test('direct invoke of a published action of another namespace: no key, record in the caller\'s namespace', async () => {
  const res = h.expectStatus(await as(A, 'POST', `/namespaces/${B}/actions/${PKG}/envdump?blocking=true`, {}), 200);
  assertNoKey(res.json.response.result, 'direct');
  assert.equal(res.json.namespace, A, `the blocking answer's record: ${JSON.stringify(res.json).slice(0, 600)}`);
  await checkCallerRecord(A, B, res.json.activationId, `${B}/${PKG}/envdump`, 'direct');
});

test('invoke through a binding of the published package: no key, record in the caller\'s namespace', async () => {
  await ok(A, 'PUT', '/namespaces/_/packages/bnd', { binding: { namespace: B, name: PKG } });
  const res = h.expectStatus(await as(A, 'POST', '/namespaces/_/actions/bnd/envdump?blocking=true', {}), 200);
  assertNoKey(res.json.response.result, 'binding');
  await checkCallerRecord(A, B, res.json.activationId, `${B}/${PKG}/envdump`, 'binding');
});

test('a sequence of the caller with the published action as component: no key, every record the caller\'s', async () => {
  await ok(A, 'PUT', '/namespaces/_/actions/seqx', { exec: { kind: 'sequence', components: [`/${B}/${PKG}/envdump`] } });
  const res = h.expectStatus(await as(A, 'POST', '/namespaces/_/actions/seqx?blocking=true', {}), 200);
  assertNoKey(res.json.response.result, 'sequence');
  const seq = await checkCallerRecord(A, B, res.json.activationId, `${A}/seqx`, 'sequence record');
  assert.equal(seq.logs.length, 1, JSON.stringify(seq.logs));
  const comp = await checkCallerRecord(A, B, seq.logs[0], `${B}/${PKG}/envdump`, 'sequence component');
  assertNoKey(comp.response.result, 'sequence component record');
});

test('a rule of the caller that runs the published action: no key, the record in the rule owner\'s namespace', async () => {
  await ok(A, 'PUT', '/namespaces/_/triggers/tt', {});
  await ok(A, 'PUT', '/namespaces/_/rules/rr', { trigger: 'tt', action: `/${B}/${PKG}/envdump` });
  const fire = h.expectStatus(await as(A, 'POST', '/namespaces/_/triggers/tt', { x: 1 }), 202);
  const trec = await checkCallerRecord(A, B, fire.json.activationId, undefined, 'trigger record');
  const log = JSON.parse(trec.logs[0]);
  assert.equal(log.success, true, trec.logs[0]);
  const rec = await checkCallerRecord(A, B, log.activationId, `${B}/${PKG}/envdump`, 'rule');
  assertNoKey(rec.response.result, 'rule');
});

test('provide-api-key: false by default on create; true gives the caller its own key, in its own package too', async () => {
  const dflt = await ok(A, 'PUT', '/namespaces/_/actions/nokey', { exec: { kind: 'nodejs:20', code: ENV_CODE } });
  assert.equal(h.annotation(dflt, 'provide-api-key'), false, JSON.stringify(dflt.annotations));
  let res = h.expectStatus(await as(A, 'POST', '/namespaces/_/actions/nokey?blocking=true', {}), 200);
  assert.equal(res.json.response.result.env.__OW_API_KEY, undefined, JSON.stringify(res.json.response.result));
  // an update that does not name it keeps it as it was (annotations merge, as OpenWhisk's)
  const upd = await ok(A, 'PUT', '/namespaces/_/actions/nokey?overwrite=true', { annotations: [{ key: 'x', value: 1 }] });
  assert.equal(h.annotation(upd, 'provide-api-key'), false, JSON.stringify(upd.annotations));
  assert.equal(h.annotation(upd, 'x'), 1, JSON.stringify(upd.annotations));

  const own = await ok(A, 'PUT', '/namespaces/_/actions/withkey', {
    exec: { kind: 'nodejs:20', code: ENV_CODE }, annotations: [{ key: 'provide-api-key', value: true }],
  });
  assert.equal(h.annotation(own, 'provide-api-key'), true);
  res = h.expectStatus(await as(A, 'POST', '/namespaces/_/actions/withkey?blocking=true', {}), 200);
  assert.equal(res.json.response.result.env.__OW_API_KEY, keys[A], 'own action with provide-api-key: true');

  await ok(A, 'PUT', '/namespaces/_/packages/mine', {});
  await ok(A, 'PUT', '/namespaces/_/actions/mine/withkey', {
    exec: { kind: 'nodejs:20', code: ENV_CODE }, annotations: [{ key: 'provide-api-key', value: true }],
  });
  res = h.expectStatus(await as(A, 'POST', '/namespaces/_/actions/mine/withkey?blocking=true', {}), 200);
  assert.equal(res.json.response.result.env.__OW_API_KEY, keys[A], 'own packaged action with provide-api-key: true');
  assert.equal(res.json.namespace, A);
  assert.equal(h.annotation(res.json, 'path'), `${A}/mine/withkey`);

  // B's own invoke of its action (which asks for a key) gets B's key: the rule is the namespace
  res = h.expectStatus(await as(B, 'POST', `/namespaces/_/actions/${PKG}/envdump?blocking=true`, {}), 200);
  assert.equal(res.json.response.result.env.__OW_API_KEY, keys[B], 'owner invoking its own action');
});

// ---------------------------------------------------------------- block and delete

// Counts the fires of trigger ns/name (sq.evt.trigger events) with their times.
async function watchFires(ns, name) {
  const nc = await h.nats();
  const sub = nc.subscribe(`sq.evt.trigger.${ns}.${name}`);
  const times = [];
  (async () => {
    for await (const m of sub) times.push(Date.now()); // eslint-disable-line no-unused-vars
  })();
  return { times, stop: () => sub.unsubscribe(), since: (t) => times.filter((x) => x >= t).length };
}

// A rule on a trigger with an alarm every second, in namespace ns.
async function alarmRule(ns) {
  await ok(ns, 'PUT', '/namespaces/_/actions/cnt', { exec: { kind: 'nodejs:20', code: 'function main(a){return a}' } });
  await ok(ns, 'PUT', '/namespaces/_/triggers/tick', {});
  await ok(ns, 'PUT', '/namespaces/_/rules/tickrule', { trigger: 'tick', action: 'cnt' });
  const res = await as(ns, 'POST', '/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true',
    { lifecycleEvent: 'CREATE', triggerName: `/${ns}/tick`, authKey: keys[ns], cron: '* * * * * *' });
  h.expectStatus(res, 200);
}

async function waitFires(w, from, n, ms, ctx) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && w.since(from) < n) await h.sleep(100);
  assert.ok(w.since(from) >= n, `${ctx}: ${w.since(from)} fire(s) in ${ms} ms, wanted ${n}`);
}

test('user block stops an alarm rule and a NATS feed within a second; unblock resumes them', async (t) => {
  await alarmRule(C);
  // a NATS feed too: messages on ext.<C>.in fire trigger `msg`
  const subject = `ext.${C}.in`;
  await ok(C, 'PUT', '/namespaces/_/triggers/msg', {});
  await ok(C, 'PUT', '/namespaces/_/rules/msgrule', { trigger: 'msg', action: 'cnt' });
  h.expectStatus(await as(C, 'POST', '/namespaces/whisk.system/actions/nats/subscribe?blocking=true&result=true',
    { lifecycleEvent: 'CREATE', triggerName: `/${C}/msg`, authKey: keys[C], subject }), 200);
  const nc = await h.nats();
  const w = await watchFires(C, 'tick');
  const m = await watchFires(C, 'msg');
  const pump = setInterval(() => nc.publish(subject, Buffer.from('{"ping":true}')), 200);
  try {
    await waitFires(w, Date.now(), 2, 5000, 'alarm before the block');
    await waitFires(m, Date.now(), 2, 10000, 'NATS feed before the block');
    await admin(['user', 'block', C]);
    const blocked = Date.now();
    await h.sleep(4000);
    assert.equal(w.since(blocked + 1000), 0, `alarm fires more than a second after the block: ${w.times.filter((t) => t >= blocked).map((t) => t - blocked)}`);
    assert.equal(m.since(blocked + 1000), 0, `NATS feed fires more than a second after the block: ${m.times.filter((t) => t >= blocked).map((t) => t - blocked)}`);
    t.diagnostic(`alarm fires after the block at +ms: ${w.times.filter((x) => x >= blocked).map((x) => x - blocked)}`);
    t.diagnostic(`NATS feed fires after the block at +ms: ${m.times.filter((x) => x >= blocked).map((x) => x - blocked)}`);
    // the blocked subject's key is refused too
    h.expectError(await as(C, 'GET', '/namespaces/_/actions'), 403);
    // and what reaches the platform over NATS: a fire, and an invoke sent straight to the scheduler
    const fire = (await h.natsRequest(`sq.fire.${C}.tick`, { over: 'nats' })).value;
    assert.equal(fire.error && fire.error.code, 403, `sq.fire of a blocked namespace: ${JSON.stringify(fire)}`);
    const inv = (await h.natsRequest('sq.sched.invoke', {
      id: '0123456789abcdef0123456789abcdef', ns: C, name: 'cnt', subject: C, key: '', params: {},
      blocking: true, wait_ms: 5000, shared: false, caller_ns: C,
    })).value;
    assert.equal(inv.error && inv.error.code, 403, `sq.sched.invoke of a blocked namespace: ${JSON.stringify(inv)}`);
    await admin(['user', 'unblock', C]);
    const unblocked = Date.now();
    await waitFires(w, unblocked, 2, 5000, 'alarm after the unblock');
    await waitFires(m, unblocked, 2, 5000, 'NATS feed after the unblock');
  } finally {
    clearInterval(pump);
    w.stop();
    m.stop();
  }
});

// The value of key in the JetStream KV bucket (null when absent or deleted).
async function kvGet(bucket, key) {
  const nc = await h.natsAs('triggers'); // the buckets' owner: ops may not read them
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const e = await kv.get(key);
  return e && e.operation === 'PUT' && e.value.length > 0 ? e.value : null;
}

async function kvGone(bucket, key, ms, ctx) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && (await kvGet(bucket, key)) !== null) await h.sleep(100);
  assert.equal(await kvGet(bucket, key), null, `${ctx}: ${bucket} still holds ${key}`);
}

test('user delete stops the alarm and the feed for good; the same name made again starts empty', async () => {
  await alarmRule(D);
  await ok(D, 'PUT', '/namespaces/_/triggers/msg', {});
  h.expectStatus(await as(D, 'POST', '/namespaces/whisk.system/actions/nats/subscribe?blocking=true&result=true',
    { lifecycleEvent: 'CREATE', triggerName: `/${D}/msg`, authKey: keys[D], subject: `ext.${D}.in` }), 200);
  // the timer and the subscription are stored (asynchronously, from the trigger's change event)
  for (let i = 0; i < 50 && ((await kvGet('SQ_ALARMS', `a.${D}.tick`)) === null ||
    (await kvGet('SQ_NATS_FEEDS', `a.${D}.msg`)) === null); i++) await h.sleep(100);
  assert.notEqual(await kvGet('SQ_ALARMS', `a.${D}.tick`), null, 'no alarm timer stored');
  assert.notEqual(await kvGet('SQ_NATS_FEEDS', `a.${D}.msg`), null, 'no NATS feed stored');
  const inv = h.expectStatus(await as(D, 'POST', '/namespaces/_/actions/cnt?blocking=true', { n: 1 }), 200);
  const oldId = inv.json.activationId;
  await ok(D, 'PUT', '/namespaces/_/packages/p', { publish: true });
  const w = await watchFires(D, 'tick');
  try {
    await waitFires(w, Date.now(), 2, 5000, 'before the delete');
    // the records are stored
    await checkCallerRecord(D, A, oldId, `${D}/cnt`, 'before the delete');
    await admin(['user', 'delete', D]);
    made.delete(D);
    const deleted = Date.now();
    await makeUser(D); // the same name at once
    await h.sleep(4000);
    assert.equal(w.since(deleted + 1000), 0, `fires more than a second after the delete: ${w.times.filter((t) => t >= deleted).map((t) => t - deleted)}`);

    for (const kind of ['actions', 'packages', 'triggers', 'rules', 'activations']) {
      let list;
      for (let i = 0; i < 50; i++) {
        list = await ok(D, 'GET', `/namespaces/_/${kind}?limit=200`);
        if (list.length === 0) break;
        await h.sleep(100);
      }
      assert.deepEqual(list.map((x) => x.name), [], `the re-made namespace has old ${kind}`);
    }
    h.expectError(await as(D, 'GET', `/namespaces/_/activations/${oldId}`), 404);
    h.expectError(await as(D, 'GET', '/namespaces/_/actions/cnt'), 404);
    // a new action of the new namespace works, and its record stays
    await ok(D, 'PUT', '/namespaces/_/actions/fresh', { exec: { kind: 'nodejs:20', code: 'function main(){return {fresh: true}}' } });
    const r = h.expectStatus(await as(D, 'POST', '/namespaces/_/actions/fresh?blocking=true', {}), 200);
    await checkCallerRecord(D, A, r.json.activationId, `${D}/fresh`, 'the re-made namespace');
    // and the old alarm never comes back; its timer and the feed are gone from JetStream
    assert.equal(w.since(deleted + 1000), 0, 'the old alarm fired again');
    await kvGone('SQ_ALARMS', `a.${D}.tick`, 5000, 'after the delete');
    await kvGone('SQ_NATS_FEEDS', `a.${D}.msg`, 5000, 'after the delete');
  } finally {
    w.stop();
  }
});
