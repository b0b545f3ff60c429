// Results over the invoker's limit (SQ_INVOKER_MAX_RESULT_KB, 1 MB as on OpenWhisk) are
// refused as OpenWhisk refuses them: an application error with OpenWhisk's message, and
// nothing over the limit stored or returned. A result under the limit passes intact.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const name = h.uniqueName('result_limit');
const LIMIT = 1048576;
const CODE = `function main(a) { return { s: 'x'.repeat(a.n) }; }`;

after(async () => {
  await h.deleteAction(name).catch(() => {});
});

test('a 2 MB result is refused with OpenWhisk\'s message and not stored', async () => {
  await h.putAction(name, h.nodeAction(CODE));
  const n = 2 * 1024 * 1024;
  const size = JSON.stringify({ s: 'x'.repeat(n) }).length;
  const res = await h.invoke(name, { n });
  h.expectStatus(res, 502);
  assert.ok(res.text.length < 16384, `the answer carries ${res.text.length} bytes`);
  const r = res.json.response;
  assert.equal(r.status, 'application error', h.show(res));
  assert.equal(r.success, false, h.show(res));
  const want = `The action produced a response that exceeded the allowed length: ${size} > ${LIMIT} bytes.`;
  assert.ok(r.result.error.startsWith(want), `error ${JSON.stringify(r.result.error.slice(0, 300))}, want it to start with ${want}`);
  const rec = await h.pollActivation(res.json.activationId);
  assert.ok(JSON.stringify(rec).length < 16384, `the stored record is ${JSON.stringify(rec).length} bytes`);
  assert.equal(rec.response.status, 'application error');
  assert.ok(rec.response.result.error.startsWith(want), JSON.stringify(rec.response).slice(0, 400));
  // the container survives the refusal: the next activation is warm and fine
  const next = h.expectStatus(await h.invoke(name, { n: 3 }), 200);
  assert.deepEqual(next.json.response.result, { s: 'xxx' });
});

test('a result just under the limit passes intact', async () => {
  const n = LIMIT - 100;
  const res = h.expectStatus(await h.invoke(name, { n }), 200);
  assert.equal(res.json.response.result.s.length, n);
});

test('a 20 MB result (past what the invoker reads at all) is refused the same way', async () => {
  const res = await h.invoke(name, { n: 20 * 1024 * 1024 });
  h.expectStatus(res, 502);
  const r = res.json.response;
  assert.equal(r.status, 'application error', h.show(res));
  assert.match(r.result.error, /^The action produced a response that exceeded the allowed length: \d+ > 1048576 bytes\.$/, h.show(res));
  // the runtime was stopped mid-answer: the next activation gets a new container and works
  h.expectStatus(await h.invoke(name, { n: 2 }), 200);
});
