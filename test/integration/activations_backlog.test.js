// The activation store under a backlog: a burst of records far larger than a batch reaches
// SQ_ACTIVATIONS at once (as after the store was away, or the bench's store step). The store
// must drain it with every record stored exactly once and without the server handing it more
// unacknowledged records than its pipeline holds (two batches being fetched and stored, one
// more in flight): what it is handed beyond that waits in the client's queue while its
// AckWait runs, and under load (a slow machine, a slow database) that wait outlasted AckWait,
// every waiting record was redelivered, and the copies queued behind the rest without end.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const h = require('../harness/squall.js');

const N = 20000;
const name = h.uniqueName('act_backlog');

after(async () => {
  await h.closeNats();
});

const count = (dsn) =>
  +execFileSync('psql', [dsn, '-XAtc', `select count(*) from activations where name = '${name}'`]).toString().trim();

test(`a burst of ${N} records: all stored once, never more than the pipeline unacknowledged`, async () => {
  const env = h.stackEnv();
  const dsn = env.vars.SQ_PG_ADMIN_DSN;
  assert.ok(dsn, 'the stack env has no SQ_PG_ADMIN_DSN');
  const batch = +(env.vars.SQ_ACT_BATCH || 1024);
  const bound = 3 * batch;
  const jsm = await (await h.nats()).jetstreamManager();
  const inv = await h.natsAs('invoker'); // a record publisher's rights on sq.act.>
  const now = BigInt(Date.now());
  const ids = new Set();
  // core publishes (the stream takes them all the same): a burst, not a trickle
  for (let i = 0; i < N; i++) {
    const id = crypto.randomBytes(16).toString('hex');
    ids.add(id);
    inv.publish('sq.act.guest', h.pack({
      activationId: id, namespace: 'guest', name, version: '0.0.1', subject: 'guest',
      start: now, end: now + 1n, duration: 1,
      response: { status: 'success', statusCode: 0, success: true, result: { i, pad: 'x'.repeat(200) } },
      logs: ['2026-01-01T00:00:00.000Z stdout: a line of log'],
      annotations: [{ key: 'path', value: `guest/${name}` }, { key: 'kind', value: 'nodejs:20' }],
      publish: false,
    }));
    if (i % 1000 === 999) await inv.flush();
  }
  await inv.flush();
  let maxPending = 0, stored = 0, ci = null;
  const deadline = Date.now() + 80000;
  while (Date.now() < deadline) {
    ci = await jsm.consumers.info('SQ_ACTIVATIONS', 'activations');
    maxPending = Math.max(maxPending, ci.num_ack_pending);
    if (maxPending > bound) break; // already failed: no need to wait for the drain
    stored = count(dsn);
    if (stored >= N && ci.num_ack_pending === 0) break;
    await h.sleep(100);
  }
  assert.ok(maxPending <= bound,
    `the server handed the store ${maxPending} unacknowledged records at once (its pipeline holds ${bound})`);
  const [rows, distinct] = execFileSync('psql', [dsn, '-XAtc',
    `select count(*), count(distinct id) from activations where name = '${name}'`]).toString().trim().split('|').map(Number);
  assert.equal(rows, N, `${rows} of ${N} records stored within 80 s (ack pending: ${ci.num_ack_pending}, ` +
    `redelivered: ${ci.num_redelivered})`);
  assert.equal(distinct, N, 'a record stored twice');
  const got = execFileSync('psql', [dsn, '-XAtc',
    `select replace(id::text, '-', '') from activations where name = '${name}'`]).toString().trim().split('\n');
  for (const id of got) ids.delete(id);
  assert.equal(ids.size, 0, `records not stored: ${[...ids].slice(0, 5).join(', ')}...`);
});
