// REST API v1, failing actions: application error, a throw, a timeout, code that does not
// parse, a crash, a result that is not an object. Each ends in exactly one record with the
// right status, a blocking call answers 502 with the activation, nothing hangs, and the
// platform keeps serving normal actions afterwards.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const created = [];
const ok = h.uniqueName('err_ok');

async function make(base, code, extra = {}) {
  const n = h.uniqueName(base);
  await h.putAction(n, h.nodeAction(code), extra);
  created.push(n);
  return n;
}

// A blocking invoke that must fail: 502 with the activation; returns the record.
async function invokeFailing(n, status, params = {}, want = {}) {
  const t0 = Date.now();
  const res = await h.invoke(n, params, 'blocking=true', { timeoutMs: 30000 });
  const t1 = Date.now();
  h.expectStatus(res, 502);
  assert.equal(res.headers.get('x-openwhisk-activation-id'), res.json && res.json.activationId,
    `502 without a matching x-openwhisk-activation-id: ${h.show(res)}`);
  h.checkRecord(res.json, Object.assign({ name: n, status, t0, t1 }, want), '502 answer:');
  const err = res.json.response.result && res.json.response.result.error;
  assert.ok(err !== undefined && err !== null, `failed activation without result.error: ${h.show(res)}`);
  return res.json;
}

async function normalStillWorks() {
  const res = h.expectStatus(await h.invoke(ok, { name: 'after' }), 200);
  assert.deepEqual(res.json.response.result, { greeting: 'hello after' }, h.show(res));
}

before(async () => {
  await h.putAction(ok, h.nodeAction("function main(a){return {greeting:'hello '+(a.name||'world')}}"));
  created.push(ok);
});

after(async () => {
  for (const n of created) await h.deleteAction(n).catch(() => {});
});

test('an action returning {error} is an application error: 502', async () => {
  const n = await make('err_app', 'function main(){return {error:"x"}}');
  const rec = await invokeFailing(n, 'application error');
  assert.deepEqual(rec.response.result, { error: 'x' });
  const stored = await h.pollActivation(rec.activationId);
  assert.equal(stored.response.status, 'application error');
  assert.deepEqual(stored.response.result, { error: 'x' });
  // result=true on a failure still answers 502
  const res = await h.invoke(n, {}, 'blocking=true&result=true');
  h.expectStatus(res, 502);
});

test('an action that throws is an action developer error: 502', async () => {
  const n = await make('err_throw', 'function main(){throw new Error("boom")}');
  const rec = await invokeFailing(n, 'action developer error');
  assert.equal(typeof rec.response.result.error, 'string', JSON.stringify(rec.response));
  await normalStillWorks();
});

// As in OpenWhisk's Node.js runtime: a rejected Promise becomes {error: <the serialized
// error>}, an application error (a synchronous throw is a developer error).
test('an async action that rejects is an application error with the error in the result', async () => {
  const n = await make('err_reject', 'async function main(){ await null; throw new Error("later") }');
  const rec = await invokeFailing(n, 'application error');
  assert.ok(rec.response.result.error !== undefined, JSON.stringify(rec.response));
});

const LOOP_LIMITS = { timeout: 200, memory: 256, logs: 10 };

test('a 200 ms timeout stops an endless loop with the OpenWhisk message', async () => {
  const n = await make('err_loop', 'function main(){ for(;;){} }', { limits: { timeout: 200 } });
  const t0 = Date.now();
  const rec = await invokeFailing(n, 'action developer error', {}, { limits: LOOP_LIMITS });
  const took = Date.now() - t0;
  assert.equal(rec.response.result.error, 'The action exceeded its time limits of 200 milliseconds.',
    JSON.stringify(rec.response));
  assert.ok(rec.duration >= 200, `duration ${rec.duration} < the 200 ms limit`);
  assert.ok(took < 10000, `the timed-out invoke took ${took} ms to answer`);
  assert.deepEqual(h.annotation(rec, 'limits').timeout, 200);
  // the platform goes on: a normal action, and the looping one again (fresh container)
  await normalStillWorks();
  const again = await invokeFailing(n, 'action developer error', {}, { limits: LOOP_LIMITS });
  assert.equal(again.response.result.error, 'The action exceeded its time limits of 200 milliseconds.');
  await normalStillWorks();
});

test('code that does not parse ends in an action developer error, not a hang', async () => {
  const n = await make('err_syntax', 'function main( { return {} ');
  const t0 = Date.now();
  const rec = await invokeFailing(n, 'action developer error');
  assert.ok(Date.now() - t0 < 20000, 'the invoke of unparsable code took more than 20 s');
  assert.equal(typeof rec.response.result.error, 'string', JSON.stringify(rec.response));
  // non-blocking: the record still appears
  const res = h.expectStatus(await h.invoke(n, {}, ''), 202);
  const stored = await h.pollActivation(res.json.activationId, 15000);
  assert.equal(stored.response.status, 'action developer error', JSON.stringify(stored.response));
  await normalStillWorks();
});

test('code without a main function is an action developer error', async () => {
  const n = await make('err_nomain', 'function notmain(){ return {} }');
  await invokeFailing(n, 'action developer error');
});

test('a crashing action (process.exit) is an action developer error; the next invoke works', async () => {
  const n = await make('err_exit', 'function main(a){ if (a.crash) process.exit(3); return {fine:true} }');
  await invokeFailing(n, 'action developer error', { crash: true });
  const res = h.expectStatus(await h.invoke(n, { crash: false }), 200);
  assert.deepEqual(res.json.response.result, { fine: true }, h.show(res));
  await normalStillWorks();
});

test('a result that is not an object is an action developer error', async () => {
  const n = await make('err_number', 'function main(){ return 42 }');
  await invokeFailing(n, 'action developer error');
});

test('every failed invoke left exactly one record', async () => {
  const list = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=200'), 200);
  const byName = {};
  for (const a of list.json) byName[a.name] = (byName[a.name] || 0) + 1;
  // err_loop was invoked twice, err_syntax twice, err_exit twice, err_app twice; the rest once
  const want = { err_app: 2, err_throw: 1, err_reject: 1, err_loop: 2, err_syntax: 2, err_nomain: 1, err_exit: 2, err_number: 1 };
  // records are written asynchronously: give the store a moment
  const deadline = Date.now() + 10000;
  let counts = byName;
  for (;;) {
    const missing = Object.entries(want).filter(([b, c]) => (counts[h.uniqueName(b)] || 0) < c);
    if (missing.length === 0 || Date.now() > deadline) break;
    await h.sleep(200);
    const again = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=200'), 200);
    counts = {};
    for (const a of again.json) counts[a.name] = (counts[a.name] || 0) + 1;
  }
  for (const [b, c] of Object.entries(want)) {
    assert.equal(counts[h.uniqueName(b)] || 0, c, `records of ${b}: got ${counts[h.uniqueName(b)] || 0}, want ${c}`);
  }
});

test('an action flooding its output past its log limit finishes, with the logs cut near the limit', async () => {
  const n = await make('err_flood',
    "function main(){ const line = 'y'.repeat(3000); for (let i = 0; i < 1000; i++) console.log(i + ' ' + line); return {flooded: true} }",
    { limits: { logs: 1 } });
  const t0 = Date.now();
  const res = await h.invoke(n, {}, 'blocking=true', { timeoutMs: 30000 });
  assert.ok(Date.now() - t0 < 20000, `a 3 MB log flood took ${Date.now() - t0} ms`);
  assert.ok(res.status === 200 || res.status === 502, `want 200 or 502: ${h.show(res)}`);
  const rec = await h.pollActivation(res.json.activationId, 15000);
  const bytes = rec.logs.reduce((s, l) => s + Buffer.byteLength(l), 0);
  assert.ok(bytes <= 1.1 * 1024 * 1024, `${bytes} bytes of logs kept with a 1 MB limit`);
  assert.ok(rec.logs.length > 0, 'no logs at all kept from the flood');
  await normalStillWorks();
});

// Values nest at most SQ_MP_MAX_DEPTH (30) levels inside the platform. Parameters nested
// deeper are refused at the door (400); a result nested deeply must still end in one
// record (every accepted invocation does), whatever its status.
function nested(depth) {
  let v = { leaf: true };
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

test('parameters nested 40 deep: 400, no activation', async () => {
  const res = await h.invoke(ok, nested(40));
  h.expectError(res, 400);
});

for (const depth of [26, 28, 29, 30, 31, 40]) {
  test(`a result nested ${depth} deep ends in one stored record, without a hang`, async () => {
    const n = await make(`err_deep${depth}`,
      `function main(){ let v = {leaf: true}; for (let i = 1; i < ${depth}; i++) v = {a: v}; return v }`);
    const t0 = Date.now();
    const res = await h.invoke(n, {}, 'blocking=true', { timeoutMs: 30000 });
    assert.ok(Date.now() - t0 < 20000, `took ${Date.now() - t0} ms`);
    const id = res.headers.get('x-openwhisk-activation-id');
    assert.match(String(id), /^[0-9a-f]{32}$/, `no activation id: ${h.show(res)}`);
    let rec;
    try {
      rec = await h.pollActivation(id, 10000);
    } catch (e) {
      assert.fail(`the invoke answered ${h.show(res)} but its record was never stored: ${e.message}`);
    }
    assert.ok(res.status === 200 || res.status === 502,
      `want 200 (the result) or 502 (refused as too deep, the action's fault): ${h.show(res)}`);
    if (res.status === 200) assert.deepEqual(rec.response.result, nested(depth), 'stored result differs');
    await normalStillWorks();
  });
}
