// The activation store: list with name/since/upto/skip/limit (at most 200), docs, count
// (count with docs is 400); the event on sq.evt.activation.<ns> for every stored record (a
// summary: no logs, no result); one record per activation id even when two records of it
// reach the store (the first stays); records older than the retention are not kept.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('../harness/squall.js');

const name = h.uniqueName('act_list');
const ids = [];
let t0 = 0, tMid = 0;

before(async () => {
  await h.putAction(name, h.nodeAction("function main(a){console.log('n=' + a.n); return {n: a.n}}"));
  t0 = Date.now();
  for (let i = 0; i < 6; i++) {
    if (i === 3) {
      await h.sleep(50);
      tMid = Date.now();
      await h.sleep(50);
    }
    const r = await h.invoke(name, { n: i });
    h.expectStatus(r, 200);
    ids.push(r.json.activationId);
  }
  for (const id of ids) await h.pollActivation(id);
});

after(async () => {
  await h.deleteAction(name).catch(() => {});
  await h.closeNats();
});

const list = (q) => h.api('GET', `/namespaces/_/activations?${q}`);

test('list by name, newest first, with skip and limit; summaries without docs', async () => {
  const res = await list(`name=${name}&limit=200`);
  h.expectStatus(res, 200);
  assert.deepEqual(res.json.map((a) => a.activationId), [...ids].reverse(), h.show(res));
  const s = res.json[0];
  assert.equal(s.name, name);
  assert.equal(s.statusCode, 0);
  assert.equal(s.logs, undefined, 'a summary carries logs');
  assert.equal(s.response, undefined, 'a summary carries the response');
  const page = await list(`name=${name}&skip=1&limit=2`);
  h.expectStatus(page, 200);
  assert.deepEqual(page.json.map((a) => a.activationId), [ids[4], ids[3]]);
  const docs = await list(`name=${name}&limit=1&docs=true`);
  h.expectStatus(docs, 200);
  assert.deepEqual(docs.json[0].response.result, { n: 5 });
  assert.equal(docs.json[0].logs.length, 1);
});

test('since and upto select by start time (ms)', async () => {
  const late = await list(`name=${name}&since=${tMid}`);
  h.expectStatus(late, 200);
  assert.deepEqual(late.json.map((a) => a.activationId), [ids[5], ids[4], ids[3]], h.show(late));
  const early = await list(`name=${name}&since=${t0 - 1000}&upto=${tMid}`);
  h.expectStatus(early, 200);
  assert.deepEqual(early.json.map((a) => a.activationId), [ids[2], ids[1], ids[0]], h.show(early));
});

test('count, and its errors: with docs, limit over 200', async () => {
  const c = await list(`name=${name}&count=true`);
  h.expectStatus(c, 200);
  assert.deepEqual(c.json, { activations: 6 }, h.show(c));
  const cs = await list(`name=${name}&count=true&since=${tMid}`);
  assert.deepEqual(cs.json, { activations: 3 }, h.show(cs));
  const bad = await list(`name=${name}&count=true&docs=true`);
  h.expectError(bad, 400);
  assert.equal(bad.json.error, "The parameter 'docs' is not permitted with 'count'.");
  h.expectError(await list('limit=201'), 400);
});

test('every stored record is announced on sq.evt.activation.<ns>, as a summary', async () => {
  const nc = await h.nats();
  const sub = nc.subscribe('sq.evt.activation.guest');
  const seen = new Map();
  (async () => { for await (const m of sub) { const e = h.unpack(m.data); seen.set(e.activationId, e); } })();
  await nc.flush();
  const r = await h.invoke(name, { n: 99 });
  h.expectStatus(r, 200);
  const id = r.json.activationId;
  for (let i = 0; i < 100 && !seen.has(id); i++) await h.sleep(50);
  sub.unsubscribe();
  const e = seen.get(id);
  assert.ok(e, 'no event for the activation');
  assert.equal(e.name, name);
  assert.equal(e.namespace, 'guest');
  assert.deepEqual(e.response, { status: 'success', statusCode: 0, success: true });
  assert.equal(e.logs, undefined);
  for (const k of ['start', 'end', 'duration', 'subject', 'version', 'annotations', 'publish']) assert.ok(k in e, `event without ${k}`);
});

function record(id, start, result) {
  return {
    activationId: id, namespace: 'guest', name, version: '0.0.1', subject: 'guest',
    start: BigInt(start), end: BigInt(start + 1), duration: 1,
    response: { status: 'success', statusCode: 0, success: true, result },
    logs: [], annotations: [], publish: false,
  };
}

test('two records of one activation: the first one stays', async () => {
  const nc = await h.natsAs('invoker'); // a publisher of activation records
  const js = nc.jetstream();
  const id = crypto.randomBytes(16).toString('hex');
  // different message ids: as if published beyond JetStream's duplicate window
  await js.publish('sq.act.guest', h.pack(record(id, Date.now(), { which: 'first' })), { msgID: `${id}-a` });
  await js.publish('sq.act.guest', h.pack(record(id, Date.now() - 86400000, { which: 'second' })), { msgID: `${id}-b` });
  const rec = await h.pollActivation(id);
  assert.deepEqual(rec.response.result, { which: 'first' });
  await h.sleep(1000);
  const again = await h.api('GET', `/namespaces/_/activations/${id}`);
  assert.deepEqual(again.json.response.result, { which: 'first' });
  const c = await list(`name=${name}&count=true&since=${Date.now() - 2 * 86400000}`);
  const all = await list(`name=${name}&limit=200&since=${Date.now() - 2 * 86400000}`);
  assert.equal(all.json.filter((a) => a.activationId === id).length, 1, 'two rows for one id');
  assert.ok(c.json.activations >= 1);
});

test('a record older than the retention is not kept', async () => {
  const nc = await h.natsAs('invoker'); // a publisher of activation records
  const js = nc.jetstream();
  const old = crypto.randomBytes(16).toString('hex');
  const fresh = crypto.randomBytes(16).toString('hex');
  await js.publish('sq.act.guest', h.pack(record(old, Date.now() - 400 * 86400000, { old: true })), { msgID: old });
  await js.publish('sq.act.guest', h.pack(record(fresh, Date.now(), { old: false })), { msgID: fresh });
  await h.pollActivation(fresh); // the store has got past both
  const res = await h.api('GET', `/namespaces/_/activations/${old}`);
  h.expectStatus(res, 404);
});

test('count over whole and partial days agrees with the records listed', async () => {
  // records on four UTC days, twice at one time; the count adds whole days from the per-day
  // counts (schemas/activations/0003_counts.sql) and the partial days at the ends one by one
  const nc = await h.natsAs('invoker'); // a publisher of activation records
  const js = nc.jetstream();
  const cname = h.uniqueName('act_count');
  const day = 86400000, today = Math.floor(Date.now() / day) * day;
  const starts = [];
  for (const d of [-3, -2, -1, 0]) for (const off of [1000, day / 2, day / 2, day - 60000]) {
    const s = today + d * day + off;
    if (s < Date.now()) starts.push(s);
  }
  const ids = [];
  for (const s of starts) {
    const id = crypto.randomBytes(16).toString('hex');
    ids.push(id);
    await js.publish('sq.act.guest', h.pack({ ...record(id, s, {}), name: cname }), { msgID: id });
  }
  // one of them again (a redelivery from beyond the duplicate window): counted once
  await js.publish('sq.act.guest', h.pack({ ...record(ids[0], starts[0], {}), name: cname }), { msgID: `${ids[0]}-again` });
  for (const id of ids) await h.pollActivation(id);
  const ranges = [
    '', `since=${today - 2 * day + day / 2}`, `upto=${today - day + day / 2}`,
    `since=${today - 3 * day + 2000}&upto=${today - day / 2}`,
    `since=${today - 2 * day + 1000}&upto=${today - 2 * day + day / 2}`,
    `since=${today - 2 * day}&upto=${today - 1}`, `since=${today + day}`,
  ];
  for (const r of ranges) {
    const want = starts.filter((s) => {
      const since = /since=(\d+)/.exec(r), upto = /upto=(\d+)/.exec(r);
      return (!since || s >= Number(since[1])) && (!upto || s <= Number(upto[1]));
    }).length;
    const c = await list(`name=${cname}&count=true&${r}`);
    h.expectStatus(c, 200);
    assert.deepEqual(c.json, { activations: want }, `count ${r}: ${h.show(c)}`);
    const all = await list(`name=${cname}&limit=200&${r}`);
    assert.equal(all.json.length, want, `list ${r}`);
  }
  const none = await list(`name=${cname}x&count=true`);
  assert.deepEqual(none.json, { activations: 0 });
});
