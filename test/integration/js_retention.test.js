// JetStream holds what is in flight, not a second archive (issue 13): SQ_ACTIVATIONS has
// interest retention, a byte cap that refuses new records when reached (publishers retry)
// and its replica count from SQ_JS_REPLICAS (auto: 1 on the stack's single server). A
// record leaves the stream once the activation store has it: after a burst of invokes the
// stream empties while every record is readable from the store.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

after(() => h.closeNats());

async function streamInfo(name) {
  const nc = await h.nats();
  const msg = await nc.request(`$JS.API.STREAM.INFO.${name}`, new Uint8Array(0), { timeout: 5000 });
  return JSON.parse(Buffer.from(msg.data).toString('utf8'));
}

test('SQ_ACTIVATIONS: interest retention, a byte cap that refuses new records, replicas from the setting', async () => {
  const si = await streamInfo('SQ_ACTIVATIONS');
  assert.equal(si.config.retention, 'interest', JSON.stringify(si.config));
  assert.equal(si.config.discard, 'new');
  assert.equal(si.config.max_bytes, 1024 * 1024 * 1024, 'SQ_JS_ACTIVATIONS_MAX_MB default 1024');
  assert.equal(si.config.num_replicas, 1, 'a single server: one replica');
  const work = await streamInfo('SQ_WORK');
  assert.equal(work.config.retention, 'workqueue');
});

test('records leave SQ_ACTIVATIONS once the store has them', async () => {
  const name = h.uniqueName('ret');
  await h.putAction(name, h.nodeAction('function main(p) { return { n: p.n }; }'));
  const before = await streamInfo('SQ_ACTIVATIONS');
  const ids = [];
  for (let i = 0; i < 40; i++) {
    const res = await h.invoke(name, { n: i }, i % 2 ? 'blocking=true' : 'blocking=false');
    assert.ok(res.status === 200 || res.status === 202, h.show(res));
    ids.push(res.json.activationId);
  }
  for (const id of ids) await h.pollActivation(id, 20000); // all stored
  // every record went through the stream (its last sequence moved on by at least 40) ...
  let si = await streamInfo('SQ_ACTIVATIONS');
  assert.ok(si.state.last_seq >= before.state.last_seq + 40, `last_seq ${before.state.last_seq} -> ${si.state.last_seq}`);
  // ... and none stays: the stream drains once the store and the schedulers have them
  const deadline = Date.now() + 15000;
  while (si.state.messages > 0 && Date.now() < deadline) {
    await h.sleep(250);
    si = await streamInfo('SQ_ACTIVATIONS');
  }
  assert.equal(si.state.messages, 0, `records left in SQ_ACTIVATIONS: ${JSON.stringify(si.state)}`);
  await h.deleteAction(name);
});
