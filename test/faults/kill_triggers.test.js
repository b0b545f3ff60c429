// kill -9 of one of two squall-triggers copies while an alarm fires every second: the other
// copy goes on firing, and no tick ever fires twice (each tick is leased in the JetStream KV
// bucket SQ_ALARM_TICKS before it fires). A tick whose lease the dead copy had taken may be
// lost with it (at most once), so one missing tick around the kill is allowed.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const f = require('./faults.js');

const BUILD = path.resolve(process.env.SQ_BUILD_DIR || path.join(__dirname, '..', '..', 'build'));

// A second copy of squall-triggers on the same stack (its own pid file, the same log).
function secondCopy(stack) {
  const bin = path.join(BUILD, 'services', 'triggers', 'squall-triggers');
  const logFd = fs.openSync(path.join(stack.state, 'logs', 'triggers2.log'), 'a');
  // as the triggers NATS user, whose permissions it needs
  const child = spawn('bash', ['-c', 'set -a; . "$0"; set +a; unset SQ_ADMIN_TOKEN SQ_NATS_USER SQ_NATS_PASS; ' +
    '[[ -n $3 ]] && export SQ_NATS_URL=$3; echo $$ > "$1"; exec "$2"',
    path.join(stack.state, 'env'), path.join(stack.state, 'pids', 'triggers2.pid'), bin, f.serviceNatsUrl(stack, 'triggers')],
  { detached: true, stdio: ['ignore', logFd, logFd] });
  child.unref();
  fs.closeSync(logFd);
  return child.pid;
}

test('kill -9 of one of two triggers services: the alarm fires once per tick', { timeout: 300000 }, async () => {
  const stack = f.stackUp('kill_triggers');
  let second = null;
  try {
    f.raiseLimits(stack);
    second = secondCopy(stack);
    await f.sleep(2000);
    const put = async (p, body) => {
      const r = await f.api(stack, 'PUT', p, body);
      assert.equal(r.status, 200, `PUT ${p}: ${r.status} ${r.text}`);
    };
    await put('/namespaces/_/actions/tick?overwrite=true', { exec: { kind: 'nodejs:20', code: 'function main(a){return a}' } });
    await put('/namespaces/_/triggers/every1s?overwrite=true', {});
    await put('/namespaces/_/rules/every1s_r?overwrite=true', { trigger: 'every1s', action: 'tick' });
    const feed = await f.api(stack, 'POST', '/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true', {
      lifecycleEvent: 'CREATE', triggerName: '/_/every1s', authKey: stack.env.SQ_GUEST_KEY, cron: '* * * * * *',
    });
    assert.equal(feed.status, 200, `alarm feed CREATE: ${feed.status} ${feed.text}`);
    const t0 = Date.now();
    await f.sleep(4000);
    await f.kill9(stack, 'triggers');
    const killedAt = Date.now();
    await f.sleep(6000);
    const stop = await f.api(stack, 'POST', '/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true', {
      lifecycleEvent: 'DELETE', triggerName: '/_/every1s', authKey: stack.env.SQ_GUEST_KEY,
    });
    assert.equal(stop.status, 200, `alarm feed DELETE: ${stop.status} ${stop.text}`);
    const t1 = Date.now();
    await f.sleep(3000);

    const list = await f.api(stack, 'GET', `/namespaces/_/activations?name=every1s&since=${t0}&limit=200`);
    assert.equal(list.status, 200, list.text);
    const secs = list.json.map((r) => Math.floor(r.start / 1000)).sort((a, b) => a - b);
    const dups = secs.filter((s, i) => i > 0 && secs[i - 1] === s);
    assert.deepEqual(dups, [], `ticks fired twice: ${secs}`);
    const after = secs.filter((s) => s * 1000 > killedAt + 1500 && s * 1000 < t1 - 1000);
    assert.ok(after.length >= 3, `the surviving copy did not go on firing: ${secs} (killed at ${killedAt})`);
    const first = secs[0], last = secs[secs.length - 1];
    const missing = last - first + 1 - secs.length;
    assert.ok(missing <= 1, `${missing} ticks missing between ${first} and ${last}: ${secs}`);
    for (const r of list.json) assert.ok(r.start % 1000 < 50, `a fire ${r.start % 1000} ms after its tick`);
  } finally {
    if (second) {
      // stopped while NATS is still up, so that it drains and exits at once
      try { process.kill(second, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 300; i++) {
        try { process.kill(second, 0); } catch { break; }
        await f.sleep(50);
      }
      try { process.kill(second, 'SIGKILL'); } catch { /* gone */ }
    }
    f.stackDown(stack);
  }
});
