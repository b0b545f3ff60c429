// NATS least privilege (ops/squall's nats_permissions): log in as every NATS user of the
// stack and try what a stolen service password would be used for. Each refusal is the
// server's "Permissions Violation" (seen on the connection's status stream, or as the error
// of a request), and each attack has a positive control that shows the observation would
// have caught it had it worked.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('../harness/squall.js');

const SERVICES = ['auth', 'registry', 'activations', 'triggers', 'invoker', 'scheduler', 'gateway'];
const USERS = ['ops', ...SERVICES];

const conns = {};   // user -> connection
const events = {};  // user -> status events seen

before(async () => {
  for (const u of USERS) {
    const nc = await h.natsAs(u);
    conns[u] = nc;
    events[u] = [];
    (async () => { for await (const s of nc.status()) events[u].push(s); })().catch(() => {});
  }
});

after(async () => {
  await h.closeNats();
});

// subject: the exact subject, or a RegExp for the API subjects a client library chooses.
function violated(u, operation, subject) {
  const match = (x) => (subject instanceof RegExp ? subject.test(x) : x === subject);
  return events[u].some((s) => s.type === 'error' && s.permissionContext &&
    s.permissionContext.operation === operation && match(s.permissionContext.subject));
}

// Waits for the server's permission violation of `operation` on `subject` for user u.
async function expectViolation(u, operation, subject, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (violated(u, operation, subject)) return;
    await h.sleep(20);
  }
  assert.fail(`user ${u}: no permissions violation for ${operation} on ${subject} within ${timeoutMs} ms ` +
    `(status events: ${JSON.stringify(events[u].map((s) => [s.type, s.data, s.permissionContext]))})`);
}

// Subscribes as u and collects what arrives.
function listen(u, subject, opts = {}) {
  const got = [];
  const sub = conns[u].subscribe(subject, opts);
  (async () => { for await (const m of sub) got.push(m); })().catch(() => {});
  return { got, sub };
}

test('no user may subscribe to ">" (or "sq.>", or the default _INBOX.>)', async () => {
  for (const u of USERS) {
    for (const subject of ['>', 'sq.>', '_INBOX.>', 'sq.work.>']) {
      const { sub } = listen(u, subject);
      await expectViolation(u, 'subscription', subject);
      sub.unsubscribe();
    }
  }
});

test("only a service's own user reads its requests; every user's inbox is its own", async () => {
  const owners = {
    'sq.auth.verify': 'auth', 'sq.auth.admin': 'auth', 'sq.auth.limits': 'auth',
    'sq.sched.invoke': 'scheduler', 'sq.invoker.*.run': 'invoker', 'sq.registry.get': 'registry',
    'sq.activations.get': 'activations', 'sq.trigger.fire': 'triggers', 'sq.sched.r.>': 'scheduler',
    'sq.scheduler.metrics': 'scheduler', 'sq.invoker.metrics.>': 'invoker', 'sq.auth.metrics': 'auth',
  };
  for (const u of USERS) owners[`_INBOX_${u}.>`] = u;
  for (const [subject, owner] of Object.entries(owners)) {
    for (const u of USERS.filter((x) => x !== owner)) {
      const { sub } = listen(u, subject);
      await expectViolation(u, 'subscription', subject);
      sub.unsubscribe();
    }
  }
});

test('reading verify and invoke traffic as another user: refused, nothing delivered', async () => {
  const name = h.uniqueName('permsread');
  await h.putAction(name, h.nodeAction('function main(a){return {n: a.n}}'));
  try {
    const spies = [];
    for (const u of USERS.filter((x) => x !== 'auth' && x !== 'scheduler')) {
      for (const subject of ['sq.auth.verify', 'sq.sched.invoke']) {
        spies.push({ u, subject, ...listen(u, subject) });
        spies.push({ u, subject, ...listen(u, subject, { queue: subject === 'sq.auth.verify' ? 'auth' : 'scheduler' }) });
      }
    }
    for (const s of spies) await expectViolation(s.u, 'subscription', s.subject);
    // traffic on both subjects: a fresh key (not in the gateway's cache) and an invoke
    const res = await h.invoke(name, { n: 1 }, 'blocking=true&result=true', {
      key: `${crypto.randomUUID()}:${crypto.randomBytes(32).toString('hex')}` });
    h.expectStatus(res, 401);
    const ok = await h.invoke(name, { n: 2 }, 'blocking=true&result=true');
    h.expectStatus(ok, 200);
    assert.deepEqual(ok.json, { n: 2 });
    await h.sleep(200);
    for (const s of spies) assert.equal(s.got.length, 0, `${s.u} read ${s.subject}`);
  } finally {
    await h.deleteAction(name);
  }
});

test('a forged sq.auth.verify answer (the auth queue group as another user) is refused; the gateway still authenticates', async () => {
  // a real identity, which a forger would hand out for any key
  const env = h.stackEnv();
  const real = (await h.natsRequest('sq.auth.verify', { key: env.key })).value;
  assert.equal(real.namespace, 'guest', JSON.stringify(real));
  const forgers = [];
  for (const u of USERS.filter((x) => x !== 'auth')) {
    const sub = conns[u].subscribe('sq.auth.verify', { queue: 'auth' });
    const got = [];
    (async () => {
      for await (const m of sub) { got.push(m); m.respond(h.pack(real)); }
    })().catch(() => {});
    forgers.push({ u, got });
    await expectViolation(u, 'subscription', 'sq.auth.verify');
  }
  // keys the gateway has never seen: each one is a verify request that a forger in the
  // queue group would answer about half the time
  for (let i = 0; i < 12; i++) {
    const bogus = `${crypto.randomUUID()}:${crypto.randomBytes(32).toString('hex')}`;
    const res = await h.api('GET', '/namespaces/_/actions?limit=1', { key: bogus });
    h.expectError(res, 401);
  }
  const good = await h.api('GET', '/namespaces/_/actions?limit=1');
  h.expectStatus(good, 200);
  for (const f of forgers) assert.equal(f.got.length, 0, `${f.u} received verify requests`);
});

test('a fake invoker heartbeat from any other user is refused (the invoker user is heard)', async () => {
  const beat = (id) => h.pack({ id, total_mb: 1000000, free_mb: 1000000, warm: 0, busy: 0, healthy: true,
    draining: false, at: BigInt(Date.now()), started: BigInt(Date.now()) });
  const seen = new Set();
  const sub = conns.ops.subscribe('sq.invoker.heartbeat');
  (async () => { for await (const m of sub) { try { seen.add(h.unpack(m.data).id); } catch { /* ignore */ } } })();
  await conns.ops.flush();
  const fakes = {};
  for (const u of USERS.filter((x) => x !== 'invoker')) {
    fakes[u] = `fake-${u}-${crypto.randomBytes(4).toString('hex')}`;
    conns[u].publish('sq.invoker.heartbeat', beat(fakes[u]));
    await expectViolation(u, 'publish', 'sq.invoker.heartbeat');
  }
  // positive control: the same beat as the invoker user arrives (and is gone in a few seconds)
  const control = `control-${crypto.randomBytes(4).toString('hex')}`;
  const t0 = Date.now();
  while (!seen.has(control) && Date.now() - t0 < 3000) {
    conns.invoker.publish('sq.invoker.heartbeat', beat(control));
    await h.sleep(100);
  }
  sub.unsubscribe();
  assert.ok(seen.has(control), 'the control heartbeat of the invoker user did not arrive');
  for (const [u, id] of Object.entries(fakes)) assert.ok(!seen.has(id), `the fake heartbeat of ${u} arrived`);
});

test("nobody publishes into another user's inbox unasked; invocation answers have their own", async () => {
  // answers to the gateway's key checks: only through allow_responses of a request received
  for (const u of USERS.filter((x) => x !== 'gateway')) {
    const subject = `_INBOX_gateway.gw.${crypto.randomBytes(8).toString('hex')}.1`;
    conns[u].publish(subject, h.pack(real()));
    await expectViolation(u, 'publish', subject);
  }
  for (const u of USERS.filter((x) => x !== 'ops')) {
    const subject = `_INBOX_ops.${crypto.randomBytes(8).toString('hex')}`;
    conns[u].publish(subject, h.pack({}));
    await expectViolation(u, 'publish', subject);
  }
  // positive control: the invoker may answer on the invocation inbox
  const subject = `_INBOX_gateway.run.${crypto.randomBytes(8).toString('hex')}.1`;
  conns.invoker.publish(subject, h.pack({}));
  await conns.invoker.flush();
  await h.sleep(300);
  assert.ok(!violated('invoker', 'publish', subject), 'the invoker may not answer invocations');
});

test('a JetStream ack only answers a delivery: acking what was not delivered to you is refused', async () => {
  // No $JS.ACK subject is listed: an ack (ack, nak, term) goes through allow_responses as the
  // answer to its delivery, which uses up nats-server's entry for it. A listed $JS.ACK left
  // every delivery's entry for 10 minutes, and nats-server scans them all on every message
  // delivered past 4096 (issue 14: 84 % of its CPU). The positive control is the last test:
  // an invoke runs (the invoker acked its work item) and its record is stored (the writer
  // acked it).
  const acks = { invoker: 'SQ_WORK.invoker-x', scheduler: 'SQ_WORK.invoker-x',
    activations: 'SQ_ACTIVATIONS.activations', registry: 'SQ_TENANCY.registry',
    triggers: 'SQ_TRIGGER_EVENTS.triggers-alarms' };
  for (const [u, c] of Object.entries(acks)) {
    const subject = `$JS.ACK.${c}.1.${1000000 + crypto.randomInt(1000000)}.1.1.0`;
    conns[u].publish(subject);
    await expectViolation(u, 'publish', subject);
  }
});

function real() {
  return { subject: 'x', namespace: 'guest', uuid: crypto.randomUUID(), namespaces: ['guest'] };
}

test('sq.auth.admin: refused from every service user; ops is answered', async () => {
  const env = h.stackEnv();
  const req = h.pack({ token: env.vars.SQ_ADMIN_TOKEN, op: 'user.list' });
  for (const u of SERVICES) {
    await assert.rejects(conns[u].request('sq.auth.admin', req, { timeout: 3000 }),
      (e) => e.code === 'PERMISSIONS_VIOLATION' || e.code === 'TIMEOUT', `${u} got an answer on sq.auth.admin`);
    await expectViolation(u, 'publish', 'sq.auth.admin');
  }
  const ok = h.unpack((await conns.ops.request('sq.auth.admin', req, { timeout: 3000 })).data);
  assert.ok(!ok.error, `ops: ${JSON.stringify(ok)}`);
});

test('metrics (sq.<svc>.metrics): only the gateway and ops ask; a service user is refused', async () => {
  for (const u of SERVICES.filter((x) => x !== 'gateway')) {
    await assert.rejects(conns[u].request('sq.scheduler.metrics', h.pack({}), { timeout: 3000 }),
      (e) => e.code === 'PERMISSIONS_VIOLATION' || e.code === 'TIMEOUT', `${u} got the scheduler's metrics`);
    await expectViolation(u, 'publish', 'sq.scheduler.metrics');
  }
  // positive controls: the same request from the gateway's user and from ops is answered
  for (const u of ['gateway', 'ops']) {
    const r = h.unpack((await conns[u].request('sq.scheduler.metrics', h.pack({}), { timeout: 3000 })).data);
    assert.equal(r.service, 'scheduler', `${u}: ${JSON.stringify(r).slice(0, 200)}`);
    assert.ok(r.families.some((f) => f.name === 'sq_scheduler_invocations_total'), `${u}: no scheduler family`);
  }
});

test('activation records (sq.act.>) only from the invoker, scheduler and triggers', async () => {
  const id = crypto.randomBytes(16).toString('hex');
  const rec = h.pack({ activationId: id, namespace: 'guest', name: 'forged', version: '0.0.1', subject: 'guest',
    start: BigInt(Date.now()), end: BigInt(Date.now()), duration: 0,
    response: { status: 'success', statusCode: 0, success: true, result: { forged: true } },
    logs: [], annotations: [], publish: false });
  for (const u of ['ops', 'auth', 'registry', 'activations', 'gateway']) {
    conns[u].publish('sq.act.guest', rec);
    await expectViolation(u, 'publish', 'sq.act.guest');
  }
  await h.sleep(1500); // the store would have it by now
  const res = await h.api('GET', `/namespaces/_/activations/${id}`);
  h.expectStatus(res, 404);
});

test('JetStream: no user creates, deletes or purges streams it does not own, nor reads SQ_WORK', async () => {
  const evil = { name: `SQ_EVIL_${crypto.randomBytes(3).toString('hex')}`, subjects: ['sq.auth.>'] };
  for (const u of USERS) {
    const jsm = await conns[u].jetstreamManager({ checkAPI: false });
    const tries = [
      [`$JS.API.STREAM.CREATE.${evil.name}`, () => jsm.streams.add(evil)],
      ['$JS.API.STREAM.DELETE.SQ_WORK', () => jsm.streams.delete('SQ_WORK')],
      ['$JS.API.STREAM.DELETE.SQ_ACTIVATIONS', () => jsm.streams.delete('SQ_ACTIVATIONS')],
      ['$JS.API.STREAM.PURGE.SQ_WORK', () => jsm.streams.purge('SQ_WORK')],
      // update reads the stream's config first: refused there, or at the update
      [/^\$JS\.API\.STREAM\.(INFO|UPDATE)\.SQ_WORK$/,
        () => jsm.streams.update('SQ_WORK', { subjects: ['sq.work.>', 'sq.auth.>'] })],
    ];
    if (u !== 'invoker' && u !== 'scheduler') {
      // work messages carry the callers' API keys
      const consumer = /^\$JS\.API\.CONSUMER\.(DURABLE\.)?CREATE\.SQ_WORK(\.|$)/;
      tries.push([consumer, () => jsm.consumers.add('SQ_WORK', { ack_policy: 'explicit' })]);
      tries.push([consumer, () => jsm.consumers.add('SQ_WORK', { durable_name: 'spy', ack_policy: 'explicit' })]);
    }
    if (u !== 'scheduler') tries.push(['$JS.API.STREAM.CREATE.SQ_WORK', () => jsm.streams.add({ name: 'SQ_WORK', subjects: ['sq.work.>'] })]);
    if (u !== 'activations') tries.push(['$JS.API.STREAM.CREATE.SQ_ACTIVATIONS', () => jsm.streams.add({ name: 'SQ_ACTIVATIONS', subjects: ['sq.act.>'] })]);
    // its owner's sweep purges what every consumer is past (services/activations/sweep.c)
    if (u !== 'activations') tries.push(['$JS.API.STREAM.PURGE.SQ_ACTIVATIONS', () => jsm.streams.purge('SQ_ACTIVATIONS')]);
    for (const [subject, fn] of tries) {
      await assert.rejects(fn(), (e) => e.code === 'PERMISSIONS_VIOLATION' || e.code === 'TIMEOUT' || e.code === '503',
        `${u}: ${subject} was not refused`);
      await expectViolation(u, 'publish', subject);
    }
  }
  // the streams are intact; ops may look at them
  const jsm = await conns.ops.jetstreamManager();
  for (const name of ['SQ_WORK', 'SQ_ACTIVATIONS']) {
    const si = await jsm.streams.info(name);
    assert.equal(si.config.name, name);
  }
  await assert.rejects(jsm.streams.info(evil.name), (e) => /not found/i.test(e.message), 'the evil stream exists');
});

test('the refusals left the stack working: an invoke, its record, sq.*.health', async () => {
  const name = h.uniqueName('permsafter');
  await h.putAction(name, h.nodeAction('function main(a){return {ok: a.x}}'));
  try {
    const res = await h.invoke(name, { x: 5 }, 'blocking=true');
    h.expectStatus(res, 200);
    assert.deepEqual(res.json.response.result, { ok: 5 });
    await h.pollActivation(res.json.activationId);
  } finally {
    await h.deleteAction(name);
  }
  for (const s of SERVICES) {
    const r = h.unpack((await conns.ops.request(`sq.${s}.health`, h.pack({}), { timeout: 3000 })).data);
    assert.equal(r.service, s);
  }
});
