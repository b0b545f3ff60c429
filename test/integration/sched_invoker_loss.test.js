// Invoker failure, without breaking the shared stack: this test plays an invoker of its own
// (a "ghost" that beats on sq.invoker.heartbeat with plenty of memory but never runs
// anything), creates an action whose home invoker is the ghost, and then
//   - restarts the ghost (a new `started` in its heartbeat): the blocking activation sent to
//     it before is answered at once, 500 "whisk internal error", and recorded so;
//   - stops the ghost's heartbeats: within the 3 s heartbeat TTL the blocking activation it
//     had is answered and recorded the same way; the non-blocking ones still queued for it
//     in SQ_WORK are moved to a live invoker once it has been dead for the grace period,
//     and run there.
// Each activation has exactly one record.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const ghost = `aaa-ghost-${h.uniqueName('inv')}`; // sorts before real invoker ids
let beat = null;
let started = BigInt(Date.now());
let action = null;
const received = [];   // blocking work the ghost got

// FNV-1a 64 over "ns/name", as the scheduler hashes an action for its home invoker.
function fnv(s) {
  let x = 0xcbf29ce484222325n;
  for (const b of Buffer.from(s)) {
    x ^= BigInt(b);
    x = (x * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return x;
}

function sendBeat(nc) {
  nc.publish('sq.invoker.heartbeat', h.pack({
    id: ghost, total_mb: 1000000, free_mb: 1000000, warm: 0, busy: 0, healthy: true, draining: false,
    at: BigInt(Date.now()), started,
  }));
}

before(async () => {
  const nc = await h.nats();
  // which invokers are alive: the home of an action is its hash modulo their number, over
  // their sorted ids
  const ids = new Set([ghost]);
  const sub = nc.subscribe('sq.invoker.heartbeat');
  (async () => { for await (const m of sub) { try { ids.add(h.unpack(m.data).id); } catch { /* ignore */ } } })();
  // the ghost beats and takes work as the invoker user (nobody else may)
  const inv = await h.natsAs('invoker');
  const runSub = inv.subscribe(`sq.invoker.${ghost.replace(/[^A-Za-z0-9_-]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}.run`);
  (async () => { for await (const m of runSub) received.push(h.unpack(m.data)); })();
  await inv.flush();
  sendBeat(inv);
  beat = setInterval(() => sendBeat(inv), 300);
  await h.sleep(2500);
  sub.unsubscribe();
  const sorted = [...ids].sort();
  const index = sorted.indexOf(ghost);
  for (let i = 0; i < 1000 && !action; i++) {
    const name = h.uniqueName(`lossy${i}`);
    if (fnv(`guest/${name}`) % BigInt(sorted.length) === BigInt(index)) action = name;
  }
  assert.ok(action, 'no action name homed on the ghost');
  await h.putAction(action, h.nodeAction('function main(a){return {n: a.n}}'), { limits: { memory: 128 } });
});

after(async () => {
  if (beat) clearInterval(beat);
  if (action) await h.deleteAction(action).catch(() => {});
  try {
    // the scheduler user owns SQ_WORK's consumers
    const nc = await h.natsAs('scheduler');
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    await jsm.consumers.delete('SQ_WORK', `invoker-${ghost}`).catch(() => {});
  } catch { /* nothing to clean */ }
  await h.closeNats();
});

async function expectInternalErrorRecord(id) {
  const rec = await h.pollActivation(id, 10000);
  assert.equal(rec.response.status, 'whisk internal error', JSON.stringify(rec));
  assert.equal(rec.response.statusCode, 3);
  assert.equal(rec.name, action);
  return rec;
}

test('an invoker that restarts: its blocking activation is answered and recorded at once', async () => {
  const pending = h.invoke(action, { n: 1 }, 'blocking=true', { timeoutMs: 30000 });
  for (let i = 0; i < 50 && received.length === 0; i++) await h.sleep(100);
  assert.equal(received.length, 1, 'the blocking work did not reach the ghost invoker');
  const t = Date.now();
  started = BigInt(Date.now()); // the ghost "restarted": the work in hand is lost
  const res = await pending;
  h.expectStatus(res, 500);
  assert.ok(Date.now() - t < 3000, `answered ${Date.now() - t} ms after the restart`);
  assert.equal(res.json.response.status, 'whisk internal error', h.show(res));
  assert.equal(res.json.activationId, received[0].id);
  const rec = await expectInternalErrorRecord(res.json.activationId);
  // the lost record's annotations are shaped as the invoker's (proto's sq_act_annots)
  assert.deepEqual(h.annotation(rec, 'limits'), { timeout: 60000, memory: 128, logs: 10, concurrency: 1 }, JSON.stringify(rec));
  assert.equal(h.annotation(rec, 'path'), `guest/${action}`);
  assert.equal(h.annotation(rec, 'kind'), 'nodejs:20');
  assert.equal(h.annotation(rec, 'causedBy'), undefined, 'an invoke of its own has no causedBy');
  assert.equal(rec.cause, undefined);
});

test('an invoker that stops: taken out within the TTL, blocking work answered, queued work moved', { timeout: 120000 }, async () => {
  received.length = 0;
  const pending = h.invoke(action, { n: 2 }, 'blocking=true', { timeoutMs: 30000 });
  const queued = [];
  for (let i = 0; i < 3; i++) {
    const r = await h.invoke(action, { n: 10 + i }, '');
    h.expectStatus(r, 202);
    queued.push(r.json.activationId);
  }
  for (let i = 0; i < 50 && received.length === 0; i++) await h.sleep(100);
  assert.equal(received.length, 1, 'the blocking work did not reach the ghost invoker');
  clearInterval(beat);
  beat = null;
  const t = Date.now();
  const res = await pending;
  const ms = Date.now() - t;
  h.expectStatus(res, 500);
  assert.ok(ms < 5000, `answered ${ms} ms after the last heartbeat (TTL 3 s)`);
  assert.equal(res.json.response.status, 'whisk internal error', h.show(res));
  await expectInternalErrorRecord(res.json.activationId);
  // the queued ones run elsewhere once the ghost has been dead for the grace period (30 s)
  for (const id of queued) {
    const rec = await h.pollActivation(id, 90000);
    assert.equal(rec.response.status, 'success', JSON.stringify(rec));
  }
  // and a new invoke of the action goes to a live invoker
  h.expectStatus(await h.invoke(action, { n: 3 }), 200);
});
