// Idle containers are frozen (cgroup freezer) between activations: what an action leaves
// running (a timer, a child process) makes no progress while the container is idle, a warm
// activation after the pause thaws it and works, and a concurrent container is never frozen
// while one of its activations runs. The invoker freezes a container SQ_INVOKER_FREEZE_MS
// (100 ms) after its last activation ends.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const bg = h.uniqueName('freeze_bg');
const conc = h.uniqueName('freeze_conc');

// A 10 ms timer and a shell loop counting into /tmp, started by the first activation; every
// activation reports both counters, after waiting a.wait ms itself (the timer runs then).
const BG = `
const fs = require('fs');
const { spawn } = require('child_process');
let ticks = 0, timer = null;
function child() { try { return Number(fs.readFileSync('/tmp/child', 'utf8')) || 0; } catch (e) { return 0; } }
async function main(a) {
  if (!timer) {
    timer = setInterval(() => ticks++, 10);
    spawn('/bin/sh', ['-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/child.new; mv /tmp/child.new /tmp/child; sleep 0.01; done'],
          { detached: true, stdio: 'ignore' }).unref();
  }
  const t0 = ticks, c0 = child();
  if (a.wait) await new Promise((r) => setTimeout(r, a.wait));
  return { before: t0, ticks, childBefore: c0, child: child() };
}`;

after(async () => {
  await h.deleteAction(bg).catch(() => {});
  await h.deleteAction(conc).catch(() => {});
});

test('a timer and a child process left running make no progress while the container is idle', async () => {
  await h.putAction(bg, h.nodeAction(BG));
  const first = h.expectStatus(await h.invoke(bg, {}), 200).json.response.result;
  // running: both count while an activation waits
  const busy = h.expectStatus(await h.invoke(bg, { wait: 600 }), 200).json.response.result;
  assert.ok(busy.ticks - busy.before >= 20, `the timer barely ran during a 600 ms activation: ${JSON.stringify(busy)}`);
  assert.ok(busy.child - busy.childBefore >= 10, `the child barely ran during a 600 ms activation: ${JSON.stringify(busy)}`);
  // idle for 3 s: at most the freeze delay's worth of progress (100 ms: ~10 ticks)
  await h.sleep(3000);
  const res = h.expectStatus(await h.invoke(bg, {}), 200);
  const idle = res.json.response.result;
  const ranTimer = idle.ticks - busy.ticks, ranChild = idle.childBefore - busy.child;
  assert.ok(ranTimer <= 40, `the timer ticked ${ranTimer} times in 3 s of idleness (unfrozen: ~300): ${JSON.stringify({ first, busy, idle })}`);
  assert.ok(ranChild <= 40, `the child counted ${ranChild} times in 3 s of idleness (unfrozen: ~300): ${JSON.stringify({ first, busy, idle })}`);
  // the activation after the pause was warm, and the container runs again once thawed
  assert.equal(h.annotation(res.json, 'initTime'), undefined, `not warm after the pause: ${h.show(res)}`);
  const again = h.expectStatus(await h.invoke(bg, { wait: 300 }), 200).json.response.result;
  assert.ok(again.ticks - again.before >= 10, `the timer does not run after the thaw: ${JSON.stringify(again)}`);
});

test('a concurrent container is not frozen while one of its activations runs', async () => {
  await h.putAction(conc, h.nodeAction(BG), { limits: { concurrency: 4 } });
  h.expectStatus(await h.invoke(conc, {}), 200); // warm it, start its timer
  const t0 = Date.now();
  const long = h.invoke(conc, { wait: 1500 });
  await h.sleep(300);
  // a short one joins the same container and ends; the long one is still running after it
  h.expectStatus(await h.invoke(conc, {}), 200);
  const res = h.expectStatus(await long, 200);
  const r = res.json.response.result;
  assert.ok(Date.now() - t0 < 4000, `the long activation took ${Date.now() - t0} ms`);
  assert.ok(r.ticks - r.before >= 60, `the timer stalled during the long activation (frozen under it?): ${JSON.stringify(r)}`);
});
