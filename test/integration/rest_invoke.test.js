// REST API v1, invocations and activation records: blocking (full record, result=true),
// non-blocking (202 then the stored record), cold and warm starts, parameters, logs,
// result, the activation list (newest first, limit, skip), and an update reaching the next
// invoke. Real stack: gateway -> scheduler -> invoker -> gateway, records through
// JetStream into the activation store.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const HELLO = "function main(a){return {greeting:'hello '+(a.name||'world')}}";
const name = h.uniqueName('inv_hello');
const ids = [];          // activation ids of this file, in the order of the invokes
let coldRecord = null;   // the blocking answer of the first invoke

const LOG_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\s+(stdout|stderr): (.*)$/;

before(async () => {
  await h.putAction(name, h.nodeAction(HELLO));
});

after(async () => {
  await h.deleteAction(name).catch(() => {});
  await h.closeNats();
});

test('blocking invoke: 200, the activation, x-openwhisk-activation-id, cold start', async () => {
  const t0 = Date.now();
  const res = await h.invoke(name, { name: 'Ann' });
  const t1 = Date.now();
  h.expectStatus(res, 200);
  const rec = res.json;
  h.checkRecord(rec, { name, version: '0.0.1', result: { greeting: 'hello Ann' }, t0, t1, cold: true }, 'blocking answer:');
  assert.equal(res.headers.get('x-openwhisk-activation-id'), rec.activationId,
    `header x-openwhisk-activation-id does not match: ${h.show(res)}`);
  ids.push(rec.activationId);
  coldRecord = rec;
});

test('second blocking invoke reuses the warm container (no initTime)', async () => {
  const t0 = Date.now();
  const res = await h.invoke(name, {});
  const t1 = Date.now();
  h.expectStatus(res, 200);
  h.checkRecord(res.json, { name, version: '0.0.1', result: { greeting: 'hello world' }, t0, t1, cold: false }, 'warm answer:');
  assert.notEqual(res.json.activationId, ids[0], 'two invokes share an activation id');
  ids.push(res.json.activationId);
});

test('blocking=true&result=true answers the result only', async () => {
  const res = await h.invoke(name, { name: 'Res' }, 'blocking=true&result=true');
  h.expectStatus(res, 200);
  assert.deepEqual(res.json, { greeting: 'hello Res' }, h.show(res));
  const id = res.headers.get('x-openwhisk-activation-id');
  assert.match(String(id), /^[0-9a-f]{32}$/, `no x-openwhisk-activation-id on a result=true answer: ${h.show(res)}`);
  ids.push(id);
});

test('the stored record of a blocking invoke matches the blocking answer', async () => {
  assert.ok(coldRecord, 'depends on the first test');
  const rec = await h.pollActivation(coldRecord.activationId);
  h.checkRecord(rec, { name, version: '0.0.1', result: { greeting: 'hello Ann' }, cold: true }, 'stored:');
  for (const k of ['activationId', 'namespace', 'name', 'version', 'subject', 'start', 'end', 'duration']) {
    assert.deepEqual(rec[k], coldRecord[k], `stored ${k} differs from the blocking answer`);
  }
  assert.deepEqual(rec.response, coldRecord.response, 'stored response differs from the blocking answer');
});

test('non-blocking invoke: 202 {activationId}, then the record', async () => {
  const t0 = Date.now();
  const res = await h.invoke(name, { name: 'Bob' }, '');
  h.expectStatus(res, 202);
  assert.deepEqual(Object.keys(res.json || {}), ['activationId'], `202 body: ${h.show(res)}`);
  const id = res.json.activationId;
  assert.match(id, /^[0-9a-f]{32}$/, h.show(res));
  assert.equal(res.headers.get('x-openwhisk-activation-id'), id, `header on the 202: ${h.show(res)}`);
  const rec = await h.pollActivation(id, 10000);
  h.checkRecord(rec, { name, version: '0.0.1', result: { greeting: 'hello Bob' }, t0, t1: Date.now() }, 'non-blocking:');
  assert.equal(rec.activationId, id);
  ids.push(id);
});

test('the explicit namespace works like "_" for invoke and activations', async () => {
  const res = await h.api('POST', `/namespaces/guest/actions/${name}?blocking=true`, { body: { name: 'ns' } });
  h.expectStatus(res, 200);
  assert.deepEqual(res.json.response.result, { greeting: 'hello ns' }, h.show(res));
  await h.pollActivation(res.json.activationId);
  const got = h.expectStatus(await h.api('GET', `/namespaces/guest/activations/${res.json.activationId}`), 200);
  assert.equal(got.json.activationId, res.json.activationId);
  ids.push(res.json.activationId);
});

test('explicit blocking=false is non-blocking too', async () => {
  const res = await h.invoke(name, {}, 'blocking=false');
  h.expectStatus(res, 202);
  const rec = await h.pollActivation(res.json.activationId, 10000);
  assert.deepEqual(rec.response.result, { greeting: 'hello world' });
  ids.push(rec.activationId);
});

test('GET /activations/{id}/result is the response of the record', async () => {
  const id = ids[0];
  const res = h.expectStatus(await h.api('GET', `/namespaces/_/activations/${id}/result`), 200);
  assert.deepEqual(res.json.result, { greeting: 'hello Ann' }, h.show(res));
  assert.equal(res.json.status, 'success', h.show(res));
  assert.equal(res.json.success, true, h.show(res));
});

test('GET /activations lists newest first; limit and skip page it', async () => {
  for (const id of ids) await h.pollActivation(id);
  const full = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=200'), 200);
  assert.ok(Array.isArray(full.json), h.show(full));
  const listed = full.json.map((a) => a.activationId);
  for (const id of ids) assert.ok(listed.includes(id), `activation ${id} missing from the list: ${h.show(full)}`);
  // newest first: start never increases down the list, and ours appear in reverse order
  for (let i = 1; i < full.json.length; i++) {
    assert.ok(full.json[i - 1].start >= full.json[i].start,
      `not newest first at ${i}: ${full.json[i - 1].start} then ${full.json[i].start}`);
  }
  const pos = ids.map((id) => listed.indexOf(id));
  for (let i = 1; i < pos.length; i++) {
    assert.ok(pos[i] < pos[i - 1], `activation ${ids[i]} (invoked later) is listed after ${ids[i - 1]}: positions ${pos}`);
  }
  for (const a of full.json) {
    assert.equal(a.namespace, 'guest', JSON.stringify(a));
    assert.equal(typeof a.name, 'string', JSON.stringify(a));
  }
  const mine = full.json.find((a) => a.activationId === ids[0]);
  assert.equal(mine.name, name);

  const two = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=2'), 200);
  assert.deepEqual(two.json.map((a) => a.activationId), listed.slice(0, 2), `limit=2: ${h.show(two)}`);
  const skip = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=2&skip=1'), 200);
  assert.deepEqual(skip.json.map((a) => a.activationId), listed.slice(1, 3), `limit=2&skip=1: ${h.show(skip)}`);
});

test('parameters: invoke parameters override the action defaults', async () => {
  await h.withAction('inv_params',
    "function main(a){return {name:a.name, other:a.other, extra:a.extra}}",
    { parameters: [{ key: 'name', value: 'default' }, { key: 'other', value: { deep: [1, 2] } }] }, async (n) => {
    let res = h.expectStatus(await h.invoke(n, {}), 200);
    assert.deepEqual(res.json.response.result, { name: 'default', other: { deep: [1, 2] } }, h.show(res));
    res = h.expectStatus(await h.invoke(n, { name: 'given', extra: true }), 200);
    assert.deepEqual(res.json.response.result, { name: 'given', other: { deep: [1, 2] }, extra: true }, h.show(res));
  });
});

test('logs: console output as "TIMESTAMP stream: text" lines, in the record and at /logs', async () => {
  await h.withAction('inv_logs',
    "function main(a){console.log('line one'); console.error('line two'); console.log('third ' + a.x); return {done:true}}",
    {}, async (n) => {
    const res = h.expectStatus(await h.invoke(n, { x: 3 }), 200);
    const id = res.json.activationId;
    const check = (logs, where) => {
      assert.ok(Array.isArray(logs), `${where}: logs is not an array`);
      assert.equal(logs.length, 3, `${where}: want exactly 3 log lines, got ${JSON.stringify(logs)}`);
      for (const l of logs) {
        assert.match(l, LOG_LINE, `${where}: log line not "TIMESTAMP stream: text": ${JSON.stringify(l)}`);
        assert.ok(!l.includes('XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'), `${where}: the sentinel leaked into the logs`);
      }
      const parsed = logs.map((l) => l.match(LOG_LINE)).map((m) => `${m[2]}: ${m[3]}`);
      for (const want of ['stdout: line one', 'stderr: line two', 'stdout: third 3']) {
        assert.ok(parsed.includes(want), `${where}: no log line "${want}" in ${JSON.stringify(logs)}`);
      }
      assert.ok(parsed.indexOf('stdout: line one') < parsed.indexOf('stdout: third 3'), `${where}: stdout lines out of order`);
    };
    check(res.json.logs, 'blocking answer');
    await h.pollActivation(id);
    const logs = h.expectStatus(await h.api('GET', `/namespaces/_/activations/${id}/logs`), 200);
    assert.ok(logs.json && typeof logs.json === 'object' && !Array.isArray(logs.json), `/logs is not {logs: [...]}: ${h.show(logs)}`);
    check(logs.json.logs, '/logs');
  });
});

test('an async action (returning a Promise) resolves to its result', async () => {
  await h.withAction('inv_async',
    'async function main(a){ await new Promise(r => setTimeout(r, 50)); return {slept: 50, echo: a.v} }',
    {}, async (n) => {
    const res = h.expectStatus(await h.invoke(n, { v: 'x' }), 200);
    assert.deepEqual(res.json.response.result, { slept: 50, echo: 'x' }, h.show(res));
    assert.ok(res.json.duration >= 50, `duration ${res.json.duration} < the 50 ms the action slept`);
  });
});

test('values survive the trip: unicode, big strings, nesting, numbers, empty strings', async () => {
  const payload = {
    u: 'h\u00e9llo \u2713 \ud83d\ude00 \u65e5\u672c', big: 'x'.repeat(200000), nested: { a: [1, 2.5, -3, null, true, false, {}, []] },
    empty: '', arr: ['', 'a'], obj: { '': 'empty key' }, big_int: 9007199254740991, neg: -42, f: 0.1,
  };
  await h.withAction('inv_echo', 'function main(a){return a}', {}, async (n) => {
    const res = h.expectStatus(await h.invoke(n, payload), 200);
    assert.deepEqual(res.json.response.result, payload, 'echoed result differs from the parameters');
    const only = h.expectStatus(await h.invoke(n, payload, 'blocking=true&result=true'), 200);
    assert.deepEqual(only.json, payload, 'echoed result=true body differs from the parameters');
    const rec = await h.pollActivation(res.json.activationId);
    assert.deepEqual(rec.response.result, payload, 'stored result differs from the parameters');
  });
});

test('an update reaches the next invoke: new code, new version, new container', async () => {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: { exec: h.nodeAction("function main(a){return {greeting:'hi '+(a.name||'world')}}") },
  });
  h.expectStatus(res, 200);
  assert.equal(res.json.version, '0.0.2', h.show(res));
  const inv = h.expectStatus(await h.invoke(name, {}), 200);
  h.checkRecord(inv.json, { name, version: '0.0.2', result: { greeting: 'hi world' }, cold: true }, 'after update:');
});

test('different actions never share a container', async () => {
  const a = h.uniqueName('inv_iso_a');
  const b = h.uniqueName('inv_iso_b');
  const code = "let count = 0; function main(){ count++; globalThis.seen = (globalThis.seen || 0) + 1; return {count, seen: globalThis.seen} }";
  try {
    await h.putAction(a, h.nodeAction(code));
    await h.putAction(b, h.nodeAction(code));
    const a1 = h.expectStatus(await h.invoke(a, {}), 200).json.response.result;
    const a2 = h.expectStatus(await h.invoke(a, {}), 200).json.response.result;
    const b1 = h.expectStatus(await h.invoke(b, {}), 200).json.response.result;
    assert.deepEqual(a1, { count: 1, seen: 1 }, 'first invoke of a');
    assert.deepEqual(a2, { count: 2, seen: 2 }, 'second invoke of a did not reuse its warm container');
    assert.deepEqual(b1, { count: 1, seen: 1 }, "b ran in a's container (it saw a's state)");
  } finally {
    await h.deleteAction(a);
    await h.deleteAction(b);
  }
});

test('20 concurrent blocking invokes each get their own answer', async () => {
  await h.withAction('inv_conc',
    'async function main(a){ await new Promise(r => setTimeout(r, 20)); return {i: a.i} }',
    {}, async (n) => {
    const all = await Promise.all([...Array(20).keys()].map((i) => h.invoke(n, { i })));
    const bad = all.filter((res) => res.status !== 200).map((res) => `${res.status} ${res.text.slice(0, 400)}`);
    assert.deepEqual(bad, [], `${bad.length} of 20 concurrent blocking invokes failed`);
    const seen = new Set();
    all.forEach((res, i) => {
      h.expectStatus(res, 200);
      assert.deepEqual(res.json.response.result, { i }, `invoke ${i} got another's answer: ${h.show(res)}`);
      assert.equal(res.headers.get('x-openwhisk-activation-id'), res.json.activationId, h.show(res));
      seen.add(res.json.activationId);
    });
    assert.equal(seen.size, 20, 'activation ids are not unique');
    for (const id of seen) await h.pollActivation(id);
  });
});

test('20 concurrent non-blocking invokes each leave one record', async () => {
  await h.withAction('inv_conc_nb', 'function main(a){ return {i: a.i} }', {}, async (n) => {
    const all = await Promise.all([...Array(20).keys()].map((i) => h.invoke(n, { i }, '')));
    const ids = all.map((res) => h.expectStatus(res, 202).json.activationId);
    assert.equal(new Set(ids).size, 20, 'activation ids are not unique');
    const recs = [];
    for (const id of ids) recs.push(await h.pollActivation(id, 15000));
    const bad = recs.filter((r) => r.response.status !== 'success')
      .map((r) => `${r.activationId}: ${r.response.status} ${JSON.stringify(r.response.result)}`);
    assert.deepEqual(bad, [], 'concurrent non-blocking invokes failed');
    assert.deepEqual(recs.map((r) => r.response.result.i).sort((x, y) => x - y), [...Array(20).keys()],
      'the records do not hold the 20 results');
  });
});
