// Fairness between namespaces on an invoker (services/invoker/pool.c): a hog namespace that
// starts many long activations cannot take the whole invoker while a neighbour waits. The
// hog fills what it may (all but SQ_INVOKER_FAIR_MB while alone), its excess queues, and the
// neighbour's blocking invocations start at once: their p99 stays within a cold start (2 s)
// instead of waiting for the hog's work and falling back to 202 after 60 s.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const hog = h.uniqueName('hog').replace(/[^A-Za-z0-9_]/g, '_');
const nb = h.uniqueName('neighbour').replace(/[^A-Za-z0-9_]/g, '_');
const keys = {};
const HOLD_MS = 15000;
let until = 0;

const admin = h.admin;

async function put(who, name, code, limits) {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    key: keys[who], body: { exec: { kind: 'nodejs:20', code }, limits },
  });
  h.expectStatus(res, 200);
}

const invoke = (who, name, query, body) =>
  h.api('POST', `/namespaces/_/actions/${name}${query ? '?' + query : ''}`, { key: keys[who], body, timeoutMs: 90000 });

before(async () => {
  keys.hog = admin('user', 'create', hog).key;
  keys.nb = admin('user', 'create', nb).key;
  // each hog activation holds 256 MB until `until`; those that start later return at once
  await put('hog', 'hold', 'async function main(a) { const ms = a.until - Date.now(); ' +
    'if (ms > 0) await new Promise((r) => setTimeout(r, ms)); return { held: ms > 0 }; }', { memory: 256, timeout: 60000 });
  await put('nb', 'echo', 'function main(a) { return { n: a.n }; }', { memory: 256 });
});

after(async () => {
  // let the hog's work end before the next test file uses the invoker
  const left = until - Date.now();
  if (left > 0) await h.sleep(left + 1000);
  for (const s of [hog, nb]) {
    try { admin('user', 'delete', s); } catch { /* already gone */ }
  }
});

test("a hog namespace cannot make a neighbour's invocations wait", async () => {
  const total = Number(h.stackEnv().vars.SQ_INVOKER_MEMORY_MB || 2048);
  const count = Math.ceil(total / 256) + 40; // more than fit, more than the invoker's workers
  until = Date.now() + HOLD_MS;
  const fired = await Promise.all(Array.from({ length: count }, () => invoke('hog', 'hold', '', { until })));
  for (const r of fired) h.expectStatus(r, 202);
  await h.sleep(2000); // the hog fills the invoker

  const ms = [];
  for (let i = 0; i < 20; i++) {
    const res = await invoke('nb', 'echo', 'blocking=true', { n: i });
    h.expectStatus(res, 200);
    assert.deepEqual(res.json.response.result, { n: i }, h.show(res));
    ms.push(res.ms);
  }
  const ended = Date.now();
  ms.sort((a, b) => a - b);
  const p99 = ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))];
  assert.ok(p99 < 2000, `neighbour p99 ${p99} ms while the hog holds the invoker (all: ${JSON.stringify(ms)})`);
  assert.ok(ended < until, `the neighbour's invocations ended after the hog's hold (${ended - until} ms late): ` +
    `the test proves nothing (${JSON.stringify(ms)})`);

  // the hog did fill the invoker: many of its activations held their memory at once
  await h.sleep(Math.max(0, until - Date.now()) + 3000);
  const list = await h.api('GET', '/namespaces/_/activations?limit=200&docs=true', { key: keys.hog });
  h.expectStatus(list, 200);
  const held = list.json.filter((a) => a.response && a.response.result && a.response.result.held === true);
  assert.ok(held.length >= Math.floor(total / 256) - 3,
    `only ${held.length} hog activations held memory at once (of ${list.json.length} records): the hog did not fill the invoker`);
});
