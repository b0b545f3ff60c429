// The WebSocket API (GET /api/v1/ws, squall.v1) against the real stack: every op's happy
// path, live logs while the action runs, an invoke past REST's 60 s cap, namespace
// isolation, auth failures (no key, bad key, late first frame, rotated key, blocked subject),
// bad frames, limits (subscriptions, rate limits), a slow consumer that never reads, and a
// gateway killed with sockets open (clients reconnect to another gateway on the same bus).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('../harness/squall.js');
const { WsClient, connect } = require('../harness/wsclient.js');

const ACT = h.uniqueName('ws_act');          // logs, returns its params
const SLOW = h.uniqueName('ws_slow');        // logs, sleeps, logs again
const LONG = h.uniqueName('ws_long');        // runs 62 s: past REST's 60 s blocking cap
const BIG = h.uniqueName('ws_big');          // logs a line of p.size bytes
const TRIG = h.uniqueName('ws_trig');
const TRIG_NORULE = h.uniqueName('ws_trig_none');
const RULE = h.uniqueName('ws_rule');
const OTHER = h.uniqueName('ws_other').replace(/[^A-Za-z0-9_]/g, '_'); // a second subject
const VICTIM = h.uniqueName('ws_victim').replace(/[^A-Za-z0-9_]/g, '_'); // rotated / blocked
let otherKey = null;
const sockets = [];
const children = [];
let longInvoke = null;

const admin = h.admin;

async function open(opts) {
  const c = await connect(opts);
  sockets.push(c);
  return c;
}

function gatewayRssKb(pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(st)[1]);
}

function gatewayPid() {
  return Number(fs.readFileSync(path.join(h.stackEnv().stateDir, 'pids', 'gateway.pid'), 'utf8').trim());
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Another gateway on the same bus (its own port), as a load balancer would have several.
async function startGateway(extraEnv = {}) {
  const env = h.stackEnv();
  const port = await freePort();
  const bin = path.join(env.vars.SQ_BUILD_DIR, 'services', 'gateway', 'squall-gateway');
  const child = spawn(bin, [], {
    // as the gateway's own NATS user: invokers answer only the gateway's invocation inbox
    env: Object.assign({}, process.env, {
      SQ_NATS_URL: env.natsUrl.replace(/\/\/[^@/]*@/, `//gateway:${h.natsPassword('gateway')}@`),
      SQ_GATEWAY_PORT: String(port), SQ_GATEWAY_HOST: '127.0.0.1',
    }, extraEnv),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d.toString(); });
  children.push(child);
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1`);
      if (r.status === 200) break;
    } catch {}
    assert.ok(Date.now() < deadline, `the extra gateway did not answer on :${port}: ${err.slice(-2000)}`);
    await h.sleep(100);
  }
  return { child, port, stderr: () => err };
}

before(async () => {
  await h.putAction(ACT, h.nodeAction(
    "function main(p) { console.log('line one', JSON.stringify(p)); console.error('line two'); return { got: p }; }"));
  await h.putAction(SLOW, h.nodeAction(
    "async function main(p) { console.log('before the sleep'); await new Promise(r => setTimeout(r, 2000)); console.log('after the sleep'); return { slept: true }; }"));
  await h.putAction(LONG, h.nodeAction(
    "async function main(p) { console.log('long start'); await new Promise(r => setTimeout(r, 62000)); return { long: true }; }"),
  { limits: { timeout: 120000 } });
  await h.putAction(BIG, h.nodeAction("function main(p) { console.log(p.k + ':' + 'x'.repeat(p.size || 0)); return { k: p.k }; }"));
  h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${TRIG}`, { body: {} }), 200);
  h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${TRIG_NORULE}`, { body: {} }), 200);
  h.expectStatus(await h.api('PUT', `/namespaces/_/rules/${RULE}`, { body: { trigger: `/_/${TRIG}`, action: `/_/${ACT}` } }), 200);
  otherKey = admin('user', 'create', OTHER).key;
  assert.ok(otherKey, 'squall-admin user create gave no key');
  // the long invoke starts now and is checked by the last test
  const c = await open();
  const t0 = Date.now();
  longInvoke = c.request('invoke', { action: LONG }, 200000).then((r) => ({ r, ms: Date.now() - t0 }), (error) => ({ error }));
});

after(async () => {
  for (const c of sockets) c.terminate();
  for (const ch of children) try { ch.kill('SIGKILL'); } catch {}
  await h.api('DELETE', `/namespaces/_/rules/${RULE}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/triggers/${TRIG}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/triggers/${TRIG_NORULE}`).catch(() => {});
  for (const a of [ACT, SLOW, LONG, BIG]) await h.deleteAction(a).catch(() => {});
  try { admin('user', 'delete', OTHER); } catch {}
  try { admin('user', 'delete', VICTIM); } catch {}
  await h.closeNats();
});

// ---------------------------------------------------------------- the handshake

test('upgrades elsewhere than /api/v1/ws are refused with 400; the subprotocol is selected when offered', async () => {
  for (const p of ['/api/v1/namespaces', '/', '/api/v1/ws/x', '/console']) {
    const c = new WsClient({ path: p });
    await assert.rejects(c.opened, (e) => e.status === 400, `upgrade on ${p}`);
  }
  const c = await open();
  assert.equal(c.ws.protocol, 'squall.v1');
  const bare = await open({ protocol: null });
  assert.equal(bare.ws.protocol, '');
  await bare.ok('ping');
});

// ---------------------------------------------------------------- happy paths

test('auth (frame and header) answers the namespaces; ping', async () => {
  const c = await open();
  assert.deepEqual(c.authReply.namespaces, ['guest']);
  const p = await c.ok('ping');
  assert.equal(p.id, c.nextId - 1);
  const s = await c.ok('ping', { id: 'str-id' });
  assert.equal(s.id, 'str-id');
  const hdr = await open({ key: h.stackEnv().key });
  await hdr.ok('ping');
  // the header's socket already works: no auth frame needed, a second one is refused
  const again = await hdr.request('auth', { key: h.stackEnv().key });
  assert.equal(again.ok, false);
  assert.equal(again.error.code, 400);
});

test('invoke: blocking record, result only, non-blocking id; activation and log events', async () => {
  const c = await open();
  const acts = (await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } })).sub;
  const logs = (await c.ok('subscribe', { topic: 'logs', action: ACT })).sub;
  const rec = await c.ok('invoke', { action: ACT, params: { x: 1 } });
  assert.match(rec.activationId, /^[0-9a-f]{32}$/);
  assert.equal(rec.name, ACT);
  assert.equal(rec.namespace, 'guest');
  assert.deepEqual(rec.response.result, { got: { x: 1 } });
  assert.equal(rec.response.status, 'success');
  assert.ok(rec.logs.some((l) => l.includes('line one')), JSON.stringify(rec.logs));
  const res = await c.ok('invoke', { action: `/guest/${ACT}`, params: { y: 2 }, result: true });
  assert.deepEqual(res.result, { got: { y: 2 } });
  const nb = await c.ok('invoke', { action: `/_/${ACT}`, blocking: false });
  assert.match(nb.activationId, /^[0-9a-f]{32}$/);
  assert.equal(nb.response, undefined);
  for (const id of [rec.activationId, nb.activationId]) {
    const ev = await c.waitEvent((e) => e.event === 'activation' && e.activation.activationId === id, 15000, `activation event ${id}`);
    assert.equal(ev.sub, acts);
    assert.equal(ev.activation.name, ACT);
    assert.equal(ev.activation.response.status, 'success');
    const line = await c.waitEvent((e) => e.event === 'log' && e.activationId === id && e.line.includes('line one'), 15000, `log of ${id}`);
    assert.equal(line.sub, logs);
    assert.match(line.line, /^\d{4}-\d\d-\d\dT[\d:.]+Z stdout: line one/);
    await c.waitEvent((e) => e.event === 'log' && e.activationId === id && /stderr: line two$/.test(e.line), 15000, `stderr log of ${id}`);
    await c.waitEvent((e) => e.event === 'end' && e.activationId === id, 15000, `end of ${id}`);
  }
  // a REST invoke is an activation like any other
  const r = await h.invoke(ACT, { z: 3 });
  h.expectStatus(r, 200);
  await c.waitEvent((e) => e.event === 'activation' && e.activation.activationId === r.json.activationId, 15000, 'REST activation');
  // a status filter that does not match sees nothing of these
  const other = await open();
  await other.ok('subscribe', { topic: 'activations', filter: { name: ACT, status: 'application error' } });
  await c.ok('invoke', { action: ACT });
  await h.sleep(1500);
  assert.equal(other.events.filter((e) => e.event === 'activation').length, 0, JSON.stringify(other.events).slice(0, 500));
});

test('logs arrive while the action runs, before it ends', async () => {
  const c = await open();
  await c.ok('subscribe', { topic: 'logs', action: SLOW });
  const t0 = Date.now();
  const reply = c.ok('invoke', { action: SLOW });
  const first = await c.waitEvent((e) => e.event === 'log' && e.line.includes('before the sleep'), 15000, 'the first line');
  const rec = await reply;
  const firstAt = first.receivedAt;
  assert.ok(rec.receivedAt - firstAt >= 1500,
    `the first line came ${rec.receivedAt - firstAt} ms before the end (want >= 1500: streamed, not at the end); t0 +${firstAt - t0} ms`);
  const last = await c.waitEvent((e) => e.event === 'log' && e.line.includes('after the sleep'), 5000, 'the second line');
  assert.equal(last.activationId, rec.activationId);
  const end = await c.waitEvent((e) => e.event === 'end' && e.activationId === rec.activationId, 5000, 'end');
  assert.ok(end.receivedAt >= last.receivedAt);
  // by activation id
  const nb = await c.ok('invoke', { action: SLOW, blocking: false });
  const byId = await open();
  await byId.ok('subscribe', { topic: 'logs', activationId: nb.activationId });
  await byId.waitEvent((e) => e.event === 'end' && e.activationId === nb.activationId, 15000, 'end by id');
  assert.ok(byId.events.every((e) => e.activationId === nb.activationId));
});

test('fire: an activation id with an active rule, null without; the rule runs the action', async () => {
  const c = await open();
  await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } });
  const f = await c.ok('fire', { trigger: TRIG, params: { fired: true } });
  assert.match(f.activationId, /^[0-9a-f]{32}$/);
  const ev = await c.waitEvent((e) => e.event === 'activation' && e.activation.name === ACT &&
    (e.activation.annotations || []).some((a) => a.key === 'cause' && a.value === f.activationId), 15000, 'the rule\'s activation');
  assert.equal(ev.activation.response.status, 'success');
  const none = await c.ok('fire', { trigger: TRIG_NORULE });
  assert.equal(none.activationId, null);
  const missing = await c.request('fire', { trigger: h.uniqueName('nope') });
  assert.equal(missing.ok, false);
  assert.equal(missing.error.code, 404);
});

test('entities: put and delete events; unsubscribe stops events', async () => {
  const c = await open();
  const sub = (await c.ok('subscribe', { topic: 'entities' })).sub;
  const name = h.uniqueName('ws_ent');
  await h.putAction(name, h.nodeAction('function main() { return {}; }'));
  const put = await c.waitEvent((e) => e.event === 'entity' && e.name === name && e.change === 'put', 10000, 'put');
  assert.equal(put.kind, 'action');
  assert.equal(put.sub, sub);
  h.expectStatus(await h.deleteAction(name), 200);
  await c.waitEvent((e) => e.event === 'entity' && e.name === name && e.change === 'delete', 10000, 'delete');
  await c.ok('unsubscribe', { sub });
  const again = await c.request('unsubscribe', { sub });
  assert.equal(again.error.code, 404);
  const n = c.events.length;
  await h.putAction(name, h.nodeAction('function main() { return {}; }'));
  await h.deleteAction(name);
  await h.sleep(1000);
  assert.equal(c.events.length, n, 'events after unsubscribe');
});

test('events follow the subscriptions: two on one socket each get the record; none after the last unsubscribe; again after a new subscribe', async () => {
  // a socket leaves the gateway's index of subscribed sockets with its last subscription
  // and comes back with the next one
  const c = await open();
  const a = (await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } })).sub;
  const b = (await c.ok('subscribe', { topic: 'activations' })).sub;
  const r1 = await h.invoke(ACT, { round: 1 });
  h.expectStatus(r1, 200);
  const id1 = r1.json.activationId;
  await c.waitEvent((e) => e.sub === a && e.activation && e.activation.activationId === id1, 10000, 'the record on the first subscription');
  await c.waitEvent((e) => e.sub === b && e.activation && e.activation.activationId === id1, 10000, 'the record on the second subscription');
  await c.ok('unsubscribe', { sub: a });
  await c.ok('unsubscribe', { sub: b });
  const r2 = await h.invoke(ACT, { round: 2 });
  h.expectStatus(r2, 200);
  await h.sleep(1500);
  assert.equal(c.events.filter((e) => e.activation && e.activation.activationId === r2.json.activationId).length, 0,
    'an event after the last unsubscribe');
  const d = (await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } })).sub;
  const r3 = await h.invoke(ACT, { round: 3 });
  h.expectStatus(r3, 200);
  const ev = await c.waitEvent((e) => e.activation && e.activation.activationId === r3.json.activationId, 10000, 'the record after a new subscribe');
  assert.equal(ev.sub, d);
  assert.equal(c.events.filter((e) => e.activation && e.activation.activationId === r3.json.activationId).length, 1);
});

// ---------------------------------------------------------------- isolation

test('a key never sees another namespace\'s events or logs, nor invokes its actions', async () => {
  const guest = await open();
  const other = await open({ frameKey: otherKey });
  assert.deepEqual(other.authReply.namespaces, [OTHER]);
  for (const c of [guest, other]) {
    await c.ok('subscribe', { topic: 'activations' });
    await c.ok('subscribe', { topic: 'logs' });
    await c.ok('subscribe', { topic: 'entities' });
  }
  // the other subject tries to name the guest's action in its log subscription
  await other.ok('subscribe', { topic: 'logs', action: `/guest/${ACT}` });
  const rec = await guest.ok('invoke', { action: ACT });
  await guest.waitEvent((e) => e.event === 'activation' && e.activation.activationId === rec.activationId, 15000, 'guest\'s own');
  const name = h.uniqueName('ws_iso');
  const res = await h.api('PUT', `/namespaces/_/actions/${name}`, { key: otherKey, body: { exec: { kind: 'nodejs:20', code: "function main() { console.log('other log'); return {}; }" } } });
  h.expectStatus(res, 200);
  const orec = await other.ok('invoke', { action: name });
  await other.waitEvent((e) => e.event === 'activation' && e.activation.activationId === orec.activationId, 15000, 'other\'s own');
  await other.waitEvent((e) => e.event === 'log' && e.activationId === orec.activationId, 15000, 'other\'s own log');
  await other.waitEvent((e) => e.event === 'entity' && e.name === name, 15000, 'other\'s own entity');
  await h.sleep(1000);
  const leak = (c, ns, actId) => c.events.filter((e) => (e.activation && e.activation.namespace === ns) ||
    e.activationId === actId || (e.event === 'entity' && e.namespace === ns));
  assert.deepEqual(leak(other, 'guest', rec.activationId), [], 'the other subject saw guest events');
  assert.deepEqual(leak(guest, OTHER, orec.activationId), [], 'guest saw the other subject\'s events');
  const denied = await other.request('invoke', { action: `/guest/${ACT}` });
  assert.equal(denied.ok, false);
  assert.equal(denied.error.code, 403);
  const deniedFire = await other.request('fire', { trigger: `/guest/${TRIG}` });
  assert.equal(deniedFire.error.code, 403);
  await h.api('DELETE', `/namespaces/_/actions/${name}`, { key: otherKey });
});

// ---------------------------------------------------------------- auth failures

test('no key: 401 to ops, closed with 4401 after 5 s; a late first frame is too late', async () => {
  const c = new WsClient();
  sockets.push(c);
  await c.opened;
  const t0 = Date.now();
  const r = await c.request('subscribe', { topic: 'activations' });
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 401);
  const late = new WsClient();
  sockets.push(late);
  await late.opened;
  const closed = await c.closed;
  assert.equal(closed.code, 4401);
  const ms = closed.at - t0;
  assert.ok(ms >= 4500 && ms < 7000, `closed after ${ms} ms`);
  await h.sleep(Math.max(0, 5600 - (Date.now() - t0)));
  try { late.send(JSON.stringify({ id: 1, op: 'auth', key: h.stackEnv().key })); } catch {}
  const lc = await late.closed;
  assert.equal(lc.code, 4401);
});

test('a bad key (header or frame) closes with 4401', async () => {
  const env = h.stackEnv();
  const wrong = env.key.split(':')[0] + ':' + 'x'.repeat(64);
  const hdr = new WsClient({ key: wrong });
  sockets.push(hdr);
  await hdr.opened;
  assert.equal((await hdr.closed).code, 4401);
  const fr = new WsClient();
  sockets.push(fr);
  await fr.opened;
  const r = await fr.request('auth', { key: wrong });
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 401);
  assert.equal((await fr.closed).code, 4401);
  const junk = new WsClient();
  sockets.push(junk);
  await junk.opened;
  const j = await junk.request('auth', { key: 12 });
  assert.equal(j.error.code, 401);
  assert.equal((await junk.closed).code, 4401);
});

test('a rotated key and a blocked subject close their sockets within 1 s', async () => {
  const made = admin('user', 'create', VICTIM);
  const c1 = await open({ frameKey: made.key });
  const c2 = await open({ key: made.key });
  const bystander = await open();
  await c1.ok('ping');
  await c2.ok('ping');
  let t0 = Date.now();
  const rotated = admin('key', 'rotate', VICTIM);
  for (const c of [c1, c2]) {
    const cl = await Promise.race([c.closed, h.sleep(3000).then(() => null)]);
    assert.ok(cl, 'a socket of the rotated key stayed open');
    assert.equal(cl.code, 4401);
    assert.ok(cl.at - t0 <= 1000, `closed ${cl.at - t0} ms after the rotation`);
  }
  const c3 = await open({ frameKey: rotated.key });
  await c3.ok('ping');
  t0 = Date.now();
  admin('user', 'block', VICTIM);
  const cl = await Promise.race([c3.closed, h.sleep(3000).then(() => null)]);
  assert.ok(cl, 'a socket of the blocked subject stayed open');
  assert.equal(cl.code, 4401);
  assert.ok(cl.at - t0 <= 1000, `closed ${cl.at - t0} ms after the block`);
  await bystander.ok('ping');
  assert.equal(bystander.closeInfo, null);
});

// ---------------------------------------------------------------- bad frames and limits

test('bad frames: not JSON, wrong types, unknown op get 400 and the socket stays open', async () => {
  const c = await open();
  const bad = async (raw, code = 400) => {
    c.send(raw);
    const e = await c.waitEvent((x) => x.ok === false && x.id === null && !x.seen, 5000, `the error for ${raw}`);
    e.seen = true;
    assert.equal(e.error.code, code, raw);
    assert.equal(typeof e.error.error, 'string');
  };
  await bad('not json');
  await bad('[1,2]');
  await bad('{"op":"ping"}');
  await bad('{"id":{"a":1},"op":"ping"}');
  await bad('"text"');
  const cases = [
    [{ op: 12 }],
    [{ op: 'launch' }],
    [{ op: 'invoke' }],
    [{ op: 'invoke', action: 5 }],
    [{ op: 'invoke', action: ACT, params: [1] }],
    [{ op: 'invoke', action: ACT, blocking: 'yes' }],
    [{ op: 'invoke', action: '/a/b/c/d' }],
    [{ op: 'invoke', action: 'bad name!' }],
    [{ op: 'fire', trigger: 'a/b' }],
    [{ op: 'subscribe' }],
    [{ op: 'subscribe', topic: 'weather' }],
    [{ op: 'subscribe', topic: 'activations', filter: 'x' }],
    [{ op: 'subscribe', topic: 'activations', filter: { name: 3 } }],
    [{ op: 'subscribe', topic: 'logs', activationId: 'not-an-id' }],
    [{ op: 'unsubscribe', sub: 'one' }],
  ];
  for (const [fields] of cases) {
    const r = await c.request(fields.op, fields);
    assert.equal(r.ok, false, JSON.stringify(fields));
    assert.equal(r.error.code, 400, `${JSON.stringify(fields)} -> ${JSON.stringify(r)}`);
  }
  await c.ok('ping');
  assert.equal(c.closeInfo, null);
});

test('binary frames close with 1003, frames over 1 MB with 1009', async () => {
  const b = await open();
  b.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await b.closed).code, 1003);
  const big = await open();
  big.send(JSON.stringify({ id: 1, op: 'ping', pad: 'x'.repeat(1024 * 1024 + 10) }));
  assert.equal((await big.closed).code, 1009);
  // just under the limit is fine
  const ok = await open();
  const r = await ok.request('ping', { pad: 'x'.repeat(1000 * 1000) });
  assert.equal(r.ok, true);
});

test('10 000 frames in a burst: 10 000 replies, in order, and the socket stays usable', async () => {
  const c = await open();
  const ids = [];
  const replies = [];
  const done = new Promise((resolve) => {
    c.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (typeof m.id === 'string' && m.id.startsWith('b')) {
        replies.push(m.id);
        if (replies.length === 10000) resolve();
      }
    });
  });
  for (let i = 0; i < 10000; i++) {
    ids.push(`b${i}`);
    c.send(JSON.stringify({ id: `b${i}`, op: i % 2 ? 'ping' : 'nope' }));
  }
  await Promise.race([done, h.sleep(60000).then(() => { throw new Error(`only ${replies.length} replies`); })]);
  assert.deepEqual(replies, ids);
  await c.ok('ping');
});

test('more than 100 subscriptions on a socket: 429', async () => {
  const c = await open();
  for (let i = 0; i < 100; i++) await c.ok('subscribe', { topic: 'entities' });
  const r = await c.request('subscribe', { topic: 'entities' });
  assert.equal(r.error.code, 429);
});

test('the namespace\'s rate limits apply to invoke and fire: 429', async () => {
  admin('namespace', 'limits', 'set', OTHER, 'invocationsPerMinute=2', 'firesPerMinute=1');
  try {
    const name = h.uniqueName('ws_rate');
    h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${name}`, { key: otherKey, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {}; }' } } }), 200);
    h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${name}`, { key: otherKey, body: {} }), 200);
    const c = await open({ frameKey: otherKey });
    const codes = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.request('invoke', { action: name });
      codes.push(r.ok ? 200 : r.error.code);
    }
    assert.ok(codes.includes(429), `invoke codes ${codes}`);
    assert.equal(codes[0], 200, `invoke codes ${codes}`);
    const fires = [];
    for (let i = 0; i < 3; i++) {
      const r = await c.request('fire', { trigger: name });
      fires.push(r.ok ? 200 : r.error.code);
    }
    assert.ok(fires.includes(429), `fire codes ${fires}`);
    await h.api('DELETE', `/namespaces/_/actions/${name}`, { key: otherKey });
    await h.api('DELETE', `/namespaces/_/triggers/${name}`, { key: otherKey });
  } finally {
    admin('namespace', 'limits', 'set', OTHER, 'invocationsPerMinute=120', 'firesPerMinute=60');
  }
});

// ---------------------------------------------------------------- backpressure

// Fills the gateway's queue for c: big replies (a ping's reply echoes its id) while c's
// transport does not read. The kernel buffers on loopback take up to ~36 MB first.
function stall(c, n = 56) {
  c.ws._socket.pause();
  const pad = 'p'.repeat(900 * 1000);
  for (let i = 0; i < n; i++) c.send(JSON.stringify({ id: `stall${i}${pad}`, op: 'ping' }));
}

test('a full queue drops events and says how many on the next one', async () => {
  const c = await open();
  await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } });
  stall(c);
  await h.sleep(1500);
  // the queue fills as the gateway answers the stall's pings, later on a loaded machine (a CI
  // run saw the first 3 events through): invokes spread over 2 s, so that some come after
  for (let i = 0; i < 8; i++) {
    h.expectStatus(await h.invoke(ACT, { i }), 200);
    await h.sleep(250);
  }
  await h.sleep(1500); // their records are stored and announced meanwhile
  c.ws._socket.resume();
  await h.sleep(2000);
  const r = await h.invoke(ACT, { after: true });
  const ev = await c.waitEvent((e) => e.event === 'activation' && e.activation.activationId === r.json.activationId, 15000, 'the event after');
  const withDropped = c.events.find((e) => e.event === 'activation' && e.dropped > 0);
  assert.ok(withDropped, `no event said it followed dropped ones: ${JSON.stringify(c.events.map((e) => [e.event, e.dropped]))}`);
  assert.ok(withDropped.dropped >= 1 && withDropped.dropped <= 8 + 10, JSON.stringify(withDropped).slice(0, 300));
  assert.ok(ev);
  assert.equal(c.closeInfo, null);
});

test('a client that never reads is closed (1008) and slows no one else; the gateway\'s memory stays bounded', async () => {
  const pid = gatewayPid();
  const rss0 = gatewayRssKb(pid);
  const fast = await open();
  const slow = await open();
  await slow.ok('subscribe', { topic: 'activations' });
  // the other socket's latency before
  const base = [];
  for (let i = 0; i < 40; i++) {
    const s = Date.now();
    await fast.ok('ping');
    base.push(Date.now() - s);
    await h.sleep(20);
  }
  base.sort((a, b) => a - b);
  const base50 = base[Math.floor(base.length / 2)];
  const t0 = Date.now();
  stall(slow, 56);
  const lat = [];
  while (Date.now() - t0 < 13000) {
    const s = Date.now();
    await fast.ok('ping');
    lat.push(Date.now() - s);
    if (lat.length % 20 === 0) await h.invoke(ACT, {}, ''); // events keep coming
    await h.sleep(50);
  }
  lat.sort((a, b) => a - b);
  const p50 = lat[Math.floor(lat.length / 2)];
  const p99 = lat[Math.floor(lat.length * 0.99)];
  assert.ok(p50 <= Math.max(3 * base50, base50 + 10) && p99 < 250,
    `the other socket's ping p50 ${p50} ms p99 ${p99} ms while one client was stuck (p50 ${base50} ms before)`);
  const rss1 = gatewayRssKb(pid);
  slow.ws._socket.resume();
  const cl = await Promise.race([slow.closed, h.sleep(10000).then(() => null)]);
  assert.ok(cl, 'the stuck socket was not closed');
  assert.ok([1008, 1006].includes(cl.code), `closed with ${cl.code}`);
  const pongs = slow.frames;
  assert.ok(pongs < 56, `the stuck socket got all its ${pongs} replies: nothing was dropped`);
  assert.ok(rss1 - rss0 < 80 * 1024, `gateway RSS grew ${rss1 - rss0} KB with one stuck client`);
  assert.equal(fast.closeInfo, null);
});

// ---------------------------------------------------------------- several gateways

test('a gateway killed with sockets open: clients reconnect to another; nothing else breaks', async () => {
  const a = await startGateway();
  const b = await startGateway();
  const onA = [];
  for (let i = 0; i < 5; i++) {
    const c = await open({ port: a.port });
    await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } });
    onA.push(c);
  }
  // events reach sockets of every gateway
  const r1 = await h.invoke(ACT, { gw: 'a' });
  for (const c of onA) await c.waitEvent((e) => e.activation && e.activation.activationId === r1.json.activationId, 15000, 'on A');
  a.child.kill('SIGKILL');
  for (const c of onA) {
    const cl = await Promise.race([c.closed, h.sleep(5000).then(() => null)]);
    assert.ok(cl, 'a socket of the killed gateway stayed open');
  }
  const onB = [];
  for (let i = 0; i < 5; i++) {
    const c = await open({ port: b.port });
    await c.ok('subscribe', { topic: 'activations', filter: { name: ACT } });
    onB.push(c);
  }
  const inv = await onB[0].ok('invoke', { action: ACT, params: { gw: 'b' } });
  for (const c of onB) await c.waitEvent((e) => e.activation && e.activation.activationId === inv.activationId, 15000, 'on B');
  // the stack's own gateway and REST are fine
  h.expectStatus(await h.invoke(ACT, { after: 'kill' }), 200);
  const main = await open();
  await main.ok('ping');
  b.child.kill('SIGTERM');
});

test('an event to many sockets, written by several threads: each socket gets every one once, whole, in one order', async () => {
  // a gateway of its own with 3 sender threads (the stack's has one per core), 40 sockets:
  // more than the service thread writes alone
  const g = await startGateway({ SQ_GATEWAY_WS_SEND_THREADS: '3' });
  const cs = [];
  for (let i = 0; i < 40; i++) {
    const c = await open({ port: g.port });
    await c.ok('subscribe', { topic: 'logs', action: BIG });
    cs.push(c);
  }
  // four clients read nothing until all is sent: once the kernel holds 4 MB for one of them,
  // a frame goes out in part (lws keeps its rest), the next wait behind it, and the events
  // that do not fit the queue are dropped and counted
  const paused = new Set([3, 13, 23, 33]);
  for (const i of paused) cs[i].ws._socket.pause();
  const sizes = [10, 900000, 900000, 10, 900000, 900000, 900000, 10];
  const ids = [];
  for (const [k, size] of sizes.entries()) {
    const r = await h.invoke(BIG, { k, size });
    h.expectStatus(r, 200);
    ids.push(r.json.activationId);
  }
  for (const i of paused) cs[i].ws._socket.resume();
  const last = ids[ids.length - 1];
  for (const c of cs) await c.waitEvent((e) => e.event === 'end' && e.activationId === last, 30000, 'the last end');
  await h.sleep(300); // a repeated frame would come now
  const seq = (c) => c.events.filter((e) => e.event).map((e) => `${e.event} ${e.activationId} ${e.line ? e.line.length : ''}`);
  const first = seq(cs[0]);
  assert.equal(first.length, 2 * ids.length, JSON.stringify(first));
  for (const [i, c] of cs.entries()) {
    assert.equal(c.events.filter((e) => e.unparsable).length, 0, `socket ${i}: a frame that is not JSON`);
    const evs = c.events.filter((e) => e.event);
    for (const e of evs.filter((x) => x.event === 'log')) {
      const m = /stdout: (\d+):(x*)$/.exec(e.line);
      assert.ok(m, `socket ${i}: a line cut: ${e.line.slice(0, 80)}`);
      assert.equal(m[2].length, sizes[Number(m[1])], `socket ${i}: line ${m[1]} not whole`);
    }
    const dropped = evs.reduce((n, e) => n + (e.dropped || 0), 0);
    if (!paused.has(i)) {
      assert.deepEqual(seq(c), first, `socket ${i}: events missing, repeated or out of order`);
      assert.equal(dropped, 0, `socket ${i} dropped events`);
    } else {
      // what came is in order, once each; what did not is counted
      const got = seq(c);
      let k = 0;
      for (const x of got) {
        while (k < first.length && first[k] !== x) k++;
        assert.ok(k < first.length, `socket ${i}: ${x} repeated or out of order`);
        k++;
      }
      assert.equal(got.length + dropped, first.length, `socket ${i}: events neither delivered nor counted`);
    }
    c.terminate();
  }
  g.child.kill('SIGTERM');
});

test('a frame bigger than what a socket takes at once, to many sockets: its rest goes out after, whole, before the next', async () => {
  // the kernel holds at most about 4 MB for a socket whose client does not read (tcp_wmem):
  // a line of 5 MB goes out in part on every socket of the pass, lws keeps and writes the rest
  const g = await startGateway({ SQ_GATEWAY_WS_SEND_THREADS: '2', SQ_GATEWAY_WS_QUEUE_KB: '16384' });
  const cs = [];
  for (let i = 0; i < 36; i++) {
    const c = await open({ port: g.port });
    await c.ok('subscribe', { topic: 'logs', action: BIG });
    c.ws._socket.pause();
    cs.push(c);
  }
  const sizes = [5000000, 10];
  const ids = [];
  for (const [k, size] of sizes.entries()) {
    const r = await h.invoke(BIG, { k, size });
    h.expectStatus(r, 200);
    ids.push(r.json.activationId);
  }
  await h.sleep(300);
  for (const c of cs) c.ws._socket.resume();
  const want = ids.flatMap((id, k) => [`log ${id} ${sizes[k]}`, `end ${id}`]);
  for (const [i, c] of cs.entries()) {
    await c.waitEvent((e) => e.event === 'end' && e.activationId === ids[1], 30000, `the last end on socket ${i}`);
    assert.equal(c.events.filter((e) => e.unparsable).length, 0, `socket ${i}: a frame that is not JSON`);
    const got = c.events.filter((e) => e.event).map((e) => {
      const m = e.line ? /stdout: \d+:(x*)$/.exec(e.line) : null;
      return `${e.event} ${e.activationId}${e.line ? ' ' + (m ? m[1].length : 'cut') : ''}`;
    });
    assert.deepEqual(got, want, `socket ${i}`);
    assert.equal(c.events.filter((e) => e.dropped).length, 0, `socket ${i}: events dropped`);
    c.terminate();
  }
  g.child.kill('SIGTERM');
});

// ---------------------------------------------------------------- past the 60 s cap

test('a blocking invoke over the socket waits past REST\'s 60 s cap for the record', { timeout: 150000 }, async () => {
  const { r, ms, error } = await longInvoke;
  assert.ifError(error);
  assert.equal(r.ok, true, JSON.stringify(r).slice(0, 500));
  assert.equal(r.response.status, 'success', JSON.stringify(r).slice(0, 500));
  assert.deepEqual(r.response.result, { long: true });
  assert.ok(ms >= 60000, `answered after ${ms} ms`);
});
