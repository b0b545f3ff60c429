// Sequences and conductor actions, run by the scheduler: components in order with the
// output of one the input of the next, the first error stops the sequence, one sequence
// record whose logs are the component ids (each component annotated causedBy "sequence"),
// nested sequences, a missing component; conductor actions as in apache/openwhisk
// docs/conductors.md (the tripleAndIncrement example, with its primary and derived
// activations), non-blocking compositions recorded later.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const n = (base) => h.uniqueName(base);
const created = [];

async function action(base, code, extra = {}) {
  const name = n(base);
  await h.putAction(name, h.nodeAction(code), extra);
  created.push(name);
  return name;
}

async function sequence(base, components) {
  const name = n(base);
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: { exec: { kind: 'sequence', components } },
  });
  h.expectStatus(res, 200);
  created.push(name);
  return name;
}

let inc, dbl, boom, triple, increment, tai;

before(async () => {
  inc = await action('seq_inc', 'function main(a){return {value: (a.value || 0) + 1}}');
  dbl = await action('seq_dbl', 'function main(a){return {value: a.value * 2}}');
  boom = await action('seq_boom', "function main(a){return {error: 'boom at ' + a.value}}");
  triple = await action('triple', 'function main({ value }) { return { value: value * 3 } }');
  increment = await action('increment', 'function main({ value }) { return { value: value + 1 } }');
  tai = await action('tripleAndIncrement', `function main(params) {
    let step = params.$step || 0
    delete params.$step
    switch (step) {
      case 0: return { action: '${triple}', params, state: { $step: 1 } }
      case 1: return { action: '${increment}', params, state: { $step: 2 } }
      case 2: return { params }
    }
  }`, { annotations: [{ key: 'conductor', value: true }] });
});

after(async () => {
  for (const name of created.reverse()) await h.deleteAction(name).catch(() => {});
  await h.closeNats();
});

test('a sequence runs its components in order, output to input, one record', async () => {
  const seq = await sequence('seq_a', [`/_/${inc}`, `/guest/${dbl}`, `/_/${inc}`]);
  const res = await h.invoke(seq, { value: 3 });
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.deepEqual(rec.response.result, { value: 9 }, h.show(res));
  assert.equal(rec.response.status, 'success');
  assert.equal(rec.name, seq);
  assert.equal(h.annotation(rec, 'kind'), 'sequence');
  assert.equal(h.annotation(rec, 'topmost'), true);
  assert.equal(h.annotation(rec, 'path'), `guest/${seq}`);
  assert.equal(rec.logs.length, 3, `logs are not the 3 component ids: ${h.show(res)}`);
  let total = 0;
  const names = [];
  for (const id of rec.logs) {
    assert.match(id, /^[0-9a-f]{32}$/);
    const c = await h.pollActivation(id);
    assert.equal(h.annotation(c, 'causedBy'), 'sequence', `component ${id} not annotated causedBy`);
    total += c.duration;
    names.push(c.name);
  }
  assert.deepEqual(names, [inc, dbl, inc]);
  assert.equal(rec.duration, total, 'the sequence duration is not the sum of the components');
  const stored = await h.pollActivation(rec.activationId);
  assert.deepEqual(stored.logs, rec.logs);
});

test('the first component that fails stops the sequence with its response (502)', async () => {
  const seq = await sequence('seq_b', [`/_/${inc}`, `/_/${boom}`, `/_/${inc}`]);
  const res = await h.invoke(seq, { value: 1 });
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'application error', h.show(res));
  assert.deepEqual(res.json.response.result, { error: 'boom at 2' });
  assert.equal(res.json.logs.length, 2, 'the component after the failing one ran');
});

test('a missing component ends the sequence with an application error', async () => {
  const seq = await sequence('seq_c', [`/_/${inc}`, `/_/${inc}`]);
  // delete the second component's action after creation: the sequence finds it gone
  const gone = await action('seq_gone', 'function main(a){return a}');
  const seq2 = await sequence('seq_d', [`/_/${inc}`, `/_/${gone}`]);
  await h.deleteAction(gone);
  const res = await h.invoke(seq2, { value: 1 });
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'application error', h.show(res));
  assert.deepEqual(res.json.response.result, { error: 'Sequence component does not exist.' });
  h.expectStatus(await h.invoke(seq, { value: 1 }, 'blocking=true&result=true'), 200);
});

test('nested sequences and a conductor inside a sequence', async () => {
  const inner = await sequence('seq_inner', [`/_/${inc}`, `/_/${dbl}`]);
  const outer = await sequence('seq_outer', [`/_/${inc}`, `/_/${inner}`, `/_/${tai}`]);
  const res = await h.invoke(outer, { value: 3 });
  h.expectStatus(res, 200);
  // inc(3) = 4; inner: (4 + 1) * 2 = 10; tripleAndIncrement(10) = 31
  assert.deepEqual(res.json.response.result, { value: 31 }, h.show(res));
  assert.equal(res.json.logs.length, 3);
  const innerRec = await h.pollActivation(res.json.logs[1]);
  assert.equal(innerRec.name, inner);
  assert.equal(h.annotation(innerRec, 'kind'), 'sequence');
  assert.equal(h.annotation(innerRec, 'causedBy'), 'sequence');
  assert.equal(innerRec.logs.length, 2);
});

test('a conductor action (docs/conductors.md): tripleAndIncrement of 3 is 10', async () => {
  const res = await h.invoke(tai, { value: 3 });
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.deepEqual(rec.response.result, { value: 10 }, h.show(res));
  assert.equal(h.annotation(rec, 'conductor'), true);
  assert.equal(h.annotation(rec, 'kind'), 'sequence');
  // conductor, triple, conductor, increment, conductor
  assert.equal(rec.logs.length, 5, h.show(res));
  const names = [];
  for (const id of rec.logs) {
    const c = await h.pollActivation(id);
    assert.equal(h.annotation(c, 'causedBy'), 'sequence');
    names.push(c.name);
  }
  assert.deepEqual(names, [tai, triple, tai, increment, tai]);
});

test('a conductor naming an action that does not exist ends with an application error', async () => {
  const bad = await action('cond_bad', "function main(a){return {action: 'no_such_action_here', params: {}}}",
    { annotations: [{ key: 'conductor', value: true }] });
  const res = await h.invoke(bad, {});
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'application error', h.show(res));
  assert.match(res.json.response.result.error, /^Failed to resolve action with name '.*no_such_action_here' during composition\.$/);
});

test('a non-blocking sequence answers 202 and is recorded when done', async () => {
  const seq = await sequence('seq_nb', [`/_/${inc}`, `/_/${inc}`]);
  const res = await h.invoke(seq, { value: 40 }, '');
  h.expectStatus(res, 202);
  const rec = await h.pollActivation(res.json.activationId, 20000);
  assert.deepEqual(rec.response.result, { value: 42 });
  assert.equal(rec.logs.length, 2);
});

test('more than 50 component activations in one sequence (nested) is an application error', async () => {
  // the registry refuses a sequence of more than 50 at creation (counting through nested
  // ones): an inner sequence that grows afterwards is what the scheduler has to stop
  const thirty = await sequence('seq_30', Array.from({ length: 30 }, () => `/_/${inc}`));
  const grows = await sequence('seq_grows', [`/_/${inc}`]);
  const sixty = await sequence('seq_60', [`/_/${thirty}`, `/_/${grows}`]);
  const upd = await h.api('PUT', `/namespaces/_/actions/${grows}?overwrite=true`, {
    body: { exec: { kind: 'sequence', components: Array.from({ length: 30 }, () => `/_/${inc}`) } },
  });
  h.expectStatus(upd, 200);
  const res = await h.invoke(sixty, { value: 0 });
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'application error', h.show(res));
  assert.deepEqual(res.json.response.result, { error: 'Too many actions in the sequence.' });
  // the first inner sequence ran whole (30), the second stopped at the 50th component
  const second = await h.pollActivation(res.json.logs[1]);
  assert.equal(second.logs.length, 20, JSON.stringify(second).slice(0, 300));
});
