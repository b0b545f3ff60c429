// JetStream holds what is in flight, not a second archive (issue 13): SQ_ACTIVATIONS has
// limits retention emptied by the activation store's sweep (not interest retention:
// proto/streams.c), a byte cap that refuses new records when reached (publishers retry)
// and its replica count from SQ_JS_REPLICAS (auto: 1 on the stack's single server). A
// record leaves the stream once the activation store has it: after a burst of invokes the
// stream empties while every record is readable from the store, and every consumer of the
// stream (the store's, the schedulers') is past its last record. A consumer that has not had
// a record keeps it, through the activation store's sweeps (SQ_ACT_SWEEP_MS: it purges only
// what every consumer is past), until that consumer goes.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

after(() => h.closeNats());

async function consumers(stream) {
  const nc = await h.nats();
  const msg = await nc.request(`$JS.API.CONSUMER.LIST.${stream}`, new TextEncoder().encode('{"offset":0}'), { timeout: 5000 });
  return JSON.parse(Buffer.from(msg.data).toString('utf8')).consumers || [];
}

// until SQ_ACTIVATIONS holds no record (at most ms); its last info
async function drained(ms) {
  const deadline = Date.now() + ms;
  let si = await streamInfo('SQ_ACTIVATIONS');
  while (si.state.messages > 0 && Date.now() < deadline) {
    await h.sleep(250);
    si = await streamInfo('SQ_ACTIVATIONS');
  }
  return si;
}

// A nodejs action answering {n: p.n} under uniqueName(base); its name.
async function putEcho(base) {
  const name = h.uniqueName(base);
  await h.putAction(name, h.nodeAction('function main(p) { return { n: p.n }; }'));
  return name;
}

// A consumer on SQ_ACTIVATIONS made through nc (as a scheduler may) with config; its info.
async function createConsumer(nc, config) {
  const req = new TextEncoder().encode(JSON.stringify({ stream_name: 'SQ_ACTIVATIONS', config }));
  const created = await nc.request('$JS.API.CONSUMER.CREATE.SQ_ACTIVATIONS', req, { timeout: 5000 });
  const ci = JSON.parse(Buffer.from(created.data).toString('utf8'));
  assert.ok(ci.name && !ci.error, `consumer not created: ${JSON.stringify(ci)}`);
  return ci;
}

// count blocking invokes of name ({n: i}), each 200; their activation ids, once stored.
async function invokeStored(name, count) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    const res = await h.invoke(name, { n: i }, 'blocking=true');
    assert.equal(res.status, 200, h.show(res));
    ids.push(res.json.activationId);
  }
  for (const id of ids) await h.pollActivation(id, 20000);
  return ids;
}

async function streamInfo(name) {
  const nc = await h.nats();
  const msg = await nc.request(`$JS.API.STREAM.INFO.${name}`, new Uint8Array(0), { timeout: 5000 });
  return JSON.parse(Buffer.from(msg.data).toString('utf8'));
}

test('SQ_ACTIVATIONS: limits retention, a byte cap that refuses new records, replicas from the setting', async () => {
  const si = await streamInfo('SQ_ACTIVATIONS');
  assert.equal(si.config.retention, 'limits', JSON.stringify(si.config));
  assert.equal(si.config.discard, 'new');
  assert.equal(si.config.max_bytes, 1024 * 1024 * 1024, 'SQ_JS_ACTIVATIONS_MAX_MB default 1024');
  assert.equal(si.config.num_replicas, 1, 'a single server: one replica');
  const work = await streamInfo('SQ_WORK');
  assert.equal(work.config.retention, 'workqueue');
  assert.equal(work.config.discard, 'new', 'a full work queue refuses new work (503 System is overloaded)');
  assert.equal(work.config.max_bytes, 64 * 1024 * 1024, 'SQ_JS_WORK_MAX_MB default 64');
});

test('records leave SQ_ACTIVATIONS once the store has them', async () => {
  const name = await putEcho('ret');
  const before = await streamInfo('SQ_ACTIVATIONS');
  const ids = [];
  for (let i = 0; i < 40; i++) {
    const res = await h.invoke(name, { n: i }, i % 2 ? 'blocking=true' : 'blocking=false');
    assert.ok(res.status === 200 || res.status === 202, h.show(res));
    ids.push(res.json.activationId);
  }
  for (const id of ids) await h.pollActivation(id, 20000); // all stored
  // every record went through the stream (its last sequence moved on by at least 40) ...
  // ... and none stays: the stream drains once the store and the schedulers have them
  const si = await drained(15000);
  assert.ok(si.state.last_seq >= before.state.last_seq + 40, `last_seq ${before.state.last_seq} -> ${si.state.last_seq}`);
  assert.equal(si.state.messages, 0, `records left in SQ_ACTIVATIONS: ${JSON.stringify(si.state)}`);
  await h.deleteAction(name);
});

test('a concurrent burst drains: no record stays, every consumer is past the last one', async () => {
  const name = await putEcho('retc');
  const before = await streamInfo('SQ_ACTIVATIONS');
  const ids = [];
  for (let round = 0; round < 10; round++) {
    const res = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      h.invoke(name, { n: round * 20 + i }, i % 4 ? 'blocking=false' : 'blocking=true')));
    for (const r of res) {
      assert.ok(r.status === 200 || r.status === 202, h.show(r));
      ids.push(r.json.activationId);
    }
  }
  for (const id of ids) await h.pollActivation(id, 30000);
  const si = await drained(20000);
  assert.ok(si.state.last_seq >= before.state.last_seq + ids.length, `last_seq ${before.state.last_seq} -> ${si.state.last_seq}`);
  assert.equal(si.state.messages, 0, `records left in SQ_ACTIVATIONS: ${JSON.stringify(si.state)}`);
  const cs = await consumers('SQ_ACTIVATIONS');
  assert.ok(cs.some((c) => c.name === 'activations'), 'the store\'s consumer is listed');
  for (const c of cs) {
    assert.ok(c.ack_floor.stream_seq >= si.state.last_seq || (c.num_pending === 0 && c.num_ack_pending === 0),
      `consumer ${c.name} is behind: ${JSON.stringify({ ack_floor: c.ack_floor, pending: c.num_pending, ack_pending: c.num_ack_pending })}`);
  }
  await h.deleteAction(name);
});

test('a consumer that has not had the records keeps them through the sweeps, until it goes', async () => {
  const name = await putEcho('retk');
  const sched = await h.natsAs('scheduler'); // the schedulers' right: ordered consumers on SQ_ACTIVATIONS
  // as a scheduler's completions consumer whose copy is away: its deliver subject has nobody
  const ci = await createConsumer(sched, {
    deliver_subject: `_INBOX_scheduler.ret-${Date.now()}`, ack_policy: 'none', deliver_policy: 'new',
    headers_only: true, inactive_threshold: 120e9, filter_subject: 'sq.act.>',
  });
  let deleted = false;
  try {
    const ids = await invokeStored(name, 5); // stored ...
    // ... and kept for the consumer that has not had them, past several sweeps (2 s each)
    await h.sleep(12000);
    const si = await streamInfo('SQ_ACTIVATIONS');
    assert.ok(si.state.messages >= ids.length, `records gone before a consumer had them: ${JSON.stringify(si.state)}`);
    await sched.request(`$JS.API.CONSUMER.DELETE.SQ_ACTIVATIONS.${ci.name}`, new Uint8Array(0), { timeout: 5000 });
    deleted = true;
    const after = await drained(15000);
    assert.equal(after.state.messages, 0, `records left once the consumer went: ${JSON.stringify(after.state)}`);
  } finally {
    if (!deleted) {
      await sched.request(`$JS.API.CONSUMER.DELETE.SQ_ACTIVATIONS.${ci.name}`, new Uint8Array(0), { timeout: 5000 }).catch(() => {});
    }
    await h.deleteAction(name);
  }
});

test('records every consumer is past but nats-server keeps are purged by the sweep', async () => {
  // A consumer that gave up on its records (max_deliver reached, never acknowledged): its
  // floor moves past them but nats-server keeps them in the stream (by design: for
  // a dead-letter look); nobody else needs them. The activation store's sweep purges them.
  const name = await putEcho('rets');
  const sched = await h.natsAs('scheduler');
  const inbox = `_INBOX_scheduler.rets-${Date.now()}`;
  const sub = sched.subscribe(inbox); // receives, never acknowledges
  const ci = await createConsumer(sched, {
    deliver_subject: inbox, ack_policy: 'explicit', max_deliver: 1, ack_wait: 1e9, deliver_policy: 'new',
    inactive_threshold: 120e9, filter_subject: 'sq.act.>',
  });
  try {
    const ids = await invokeStored(name, 3);
    const nc = await h.nats();
    const info = async () => JSON.parse(Buffer.from((await nc.request(
      `$JS.API.CONSUMER.INFO.SQ_ACTIVATIONS.${ci.name}`, new Uint8Array(0), { timeout: 5000 })).data).toString('utf8'));
    let c = await info();
    const deadline = Date.now() + 10000;
    while ((c.num_ack_pending > 0 || c.delivered.stream_seq === 0) && Date.now() < deadline) {
      await h.sleep(250);
      c = await info();
    }
    assert.equal(c.num_ack_pending, 0, `the consumer still waits for acks: ${JSON.stringify(c)}`);
    // every consumer is past them; within a sweep (SQ_ACT_SWEEP_MS, 2 s) they are gone
    const si = await drained(25000);
    assert.equal(si.state.messages, 0, `records every consumer is past stay: ${JSON.stringify(si.state)}`);
    for (const id of ids) await h.pollActivation(id, 5000); // and each is in the store
  } finally {
    sub.unsubscribe();
    await sched.request(`$JS.API.CONSUMER.DELETE.SQ_ACTIVATIONS.${ci.name}`, new Uint8Array(0), { timeout: 5000 }).catch(() => {});
    await h.deleteAction(name);
  }
});
