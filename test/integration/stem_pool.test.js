// The stem cell pool keeps ahead of a burst of new actions: after several cold starts of new
// nodejs actions in a row, the invoker starts stem cells beyond its configured count
// (SQ_INVOKER_PREWARM nodejs, SQ_INVOKER_PREWARM_PYTHON, SQ_INVOKER_PREWARM_NATIVE), several
// at once, so that the next new actions still find one; the new actions all answer. Read from
// the invoker's own metrics over NATS (sq_invoker_containers{state="stem"}). Fails with an
// invoker that only ever keeps the configured count.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const names = [];
after(async () => {
  for (const n of names) await h.deleteAction(n).catch(() => {});
  await h.closeNats();
});

// Stem cells of every kind the invoker holds now.
async function stems() {
  const { value } = await h.natsRequest('sq.invoker.metrics', {});
  const fam = (value.families || []).find((f) => f.name === 'sq_invoker_containers');
  assert.ok(fam, `the invoker reports sq_invoker_containers: ${JSON.stringify(value).slice(0, 300)}`);
  const line = fam.samples.split('\n').find((l) => l.includes('state="stem"'));
  assert.ok(line, `a stem sample in ${fam.samples}`);
  return Number(line.trim().split(/\s+/).pop());
}

// The most stem cells seen within ms (polled every 100 ms).
async function mostStems(ms) {
  let most = await stems();
  for (const end = Date.now() + ms; Date.now() < end; await h.sleep(100)) most = Math.max(most, await stems());
  return most;
}

test('a burst of new actions grows the stem cell pool beyond its configured count', async () => {
  // the configured count (the defaults unless the stack sets them): all the old pool ever held
  const env = process.env;
  const configured = Number(env.SQ_INVOKER_PREWARM || 2) + Number(env.SQ_INVOKER_PREWARM_PYTHON || 1) +
    Number(env.SQ_INVOKER_PREWARM_NATIVE || 1);
  assert.ok((await mostStems(1000)) >= 1, 'the invoker keeps stem cells at all');
  // the extra stem cells take free memory, or that of containers idle for 30 s (pool.c,
  // STEM_EVICT_EXTRA_IDLE_MS): the containers the tests before this one left qualify then
  await h.sleep(31000);
  for (let i = 0; i < 5; i++) {
    const n = h.uniqueName(`stem${i}`);
    names.push(n);
    await h.putAction(n, h.nodeAction('function main(a){return {i: a.i}}'), { limits: { memory: 128 } });
  }
  for (const [i, n] of names.entries()) {
    const r = h.expectStatus(await h.invoke(n, { i }, 'blocking=true&result=true'), 200);
    assert.equal(r.json.i, i);
  }
  const grown = await mostStems(8000);
  assert.ok(grown > configured, `more stem cells than the configured ${configured} after 5 new actions: ${grown}`);
});
