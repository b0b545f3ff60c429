// The scheduler's batch of invokes (a trigger fire's rules in one sq.sched.invoke request,
// header Sq-Batch): one answer with each rule's outcome in order, each rule admitted on its
// own (a missing action or a bad id refuses that rule only, the others are queued and
// recorded), and a malformed batch refused as a whole with a wire error, running nothing.
// Real stack: the ops NATS user asks the scheduler directly.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('../harness/squall.js');

const ID = () => crypto.randomBytes(16).toString('hex');
const action = h.uniqueName('batch_echo');

after(async () => {
  await h.deleteAction(action).catch(() => {});
  await h.closeNats();
});

// A batch request: its decoded answer.
async function batch(body) {
  const nc = await h.nats();
  const { headers } = h.dep('nats');
  const hd = headers();
  hd.set('Sq-Batch', '1');
  const msg = await nc.request('sq.sched.invoke', h.pack(body), { timeout: 10000, headers: hd });
  return h.unpack(msg.data);
}

test('a batch: one answer, each rule queued or refused on its own, the queued ones recorded', async () => {
  const env = h.stackEnv();
  await h.putAction(action, h.nodeAction('function main(a){return {got: a.v}}'));
  const ids = [ID(), ID(), 'not-an-id', ID()];
  const ans = await batch({
    subject: 'guest', key: env.key, params: { v: 7 }, caller_ns: 'guest', cause: ID(),
    rules: [
      { id: ids[0], ns: 'guest', name: action, shared: false },
      { id: ids[1], ns: 'guest', name: h.uniqueName('batch_absent'), shared: false },
      { id: ids[2], ns: 'guest', name: action, shared: false },
      { id: ids[3], ns: 'guest', name: action, shared: false },
    ],
  });
  assert.ok(ans && Array.isArray(ans.rules) && ans.rules.length === 4, JSON.stringify(ans));
  assert.deepEqual(ans.rules[0], { activationId: ids[0], code: 0 }, JSON.stringify(ans));
  assert.equal(ans.rules[1].code, 404, JSON.stringify(ans));
  assert.equal(typeof ans.rules[1].error, 'string', JSON.stringify(ans));
  assert.equal(ans.rules[1].activationId, undefined, JSON.stringify(ans));
  assert.equal(ans.rules[2].code, 400, JSON.stringify(ans));
  assert.match(ans.rules[2].error, /32 hex/, JSON.stringify(ans));
  assert.deepEqual(ans.rules[3], { activationId: ids[3], code: 0 }, JSON.stringify(ans));
  for (const id of [ids[0], ids[3]]) {
    const rec = await h.pollActivation(id, 15000);
    assert.deepEqual(rec.response.result, { got: 7 }, JSON.stringify(rec));
  }
  const gone = await h.api('GET', `/namespaces/_/activations/${ids[1]}`);
  h.expectStatus(gone, 404);
});

test('a malformed batch is refused whole with a wire error', async () => {
  const env = h.stackEnv();
  const id = ID();
  for (const body of [
    { subject: 'guest', key: env.key, params: {} }, // no rules
    { subject: 'guest', rules: 'r' },
    { subject: 'guest', rules: [{ id, ns: 'guest' }] }, // a rule without a name
    { subject: 'guest', params: 'p', rules: [{ id, ns: 'guest', name: action }] },
  ]) {
    const ans = await batch(body);
    assert.ok(ans && ans.error && ans.error.code === 400 && typeof ans.error.message === 'string',
      `${JSON.stringify(body)}: ${JSON.stringify(ans)}`);
  }
  await h.sleep(500);
  h.expectStatus(await h.api('GET', `/namespaces/_/activations/${id}`), 404);
});
