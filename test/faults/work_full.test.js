// SQ_WORK's byte cap (issue 13: JetStream holds what is in flight, with a clear policy when
// it is full). A stack with SQ_JS_WORK_MAX_MB=1 and its invoker stopped (SIGSTOP: alive for
// the scheduler, SQ_SCHED_HEARTBEAT_TTL_MS is a minute, but taking nothing): non-blocking
// invokes are accepted (202) until the queued work reaches the cap, then refused with 503
// "System is overloaded" and no activation id (about 1 MB of work accepted, no more). Once
// the invoker runs again every accepted activation has exactly one record, no refused one
// has any, and new work is accepted again.
'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const f = require('./faults.js');

const PAD = 'x'.repeat(1500); // ~2 kB of work a message: 1 MB is reached within ~500

test('a full SQ_WORK refuses non-blocking invokes with 503 and loses none it accepted', { timeout: 300000 }, async () => {
  let stack, downStatus = 0;
  try {
    stack = f.stackUp('work_full', { SQ_JS_WORK_MAX_MB: '1', SQ_SCHED_HEARTBEAT_TTL_MS: '60000' });
    await f.prepare(stack, 'fault');
    const invoker = f.pidOf(stack, 'invoker');
    process.kill(invoker, 'SIGSTOP');
    const ids = [];
    const refused = [];
    const other = [];
    try {
      // 8 clients until 50 refusals (or 3 000 invokes: the cap never came)
      let sent = 0;
      const client = async () => {
        while (refused.length < 50 && sent < 3000) {
          sent++;
          const r = await f.api(stack, 'POST', '/namespaces/_/actions/fault', { n: sent, pad: PAD });
          if (r.status === 202) ids.push(r.json.activationId);
          else if (r.status === 503) refused.push(r);
          else other.push(`${r.status} ${r.text}`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
    } finally {
      process.kill(invoker, 'SIGCONT');
    }
    f.log(`accepted ${ids.length}, refused ${refused.length}, other ${other.length}`);
    assert.deepEqual(other, [], 'only 202 or 503');
    assert.ok(refused.length >= 50, `the cap never refused: ${ids.length} accepted`);
    assert.ok(ids.length >= 200 && ids.length <= 1000, `1 MB of ~2 kB messages: ${ids.length} accepted`);
    for (const r of refused) {
      assert.match(r.json.error, /System is overloaded, try again later/, r.text);
      assert.equal(r.json.activationId, undefined, r.text);
      assert.match(String(r.json.code), /\S/, 'the request id');
    }
    await f.expectOneRecordEach(stack, ids, 120000);
    const recorded = Number(f.psql(stack, "SELECT count(*) FROM activations WHERE name = 'fault'"));
    assert.equal(recorded, ids.length + 1, 'a record for each accepted one and the warm-up, none for the refused');
    // the queue drained: work is accepted again
    const after = await f.firehose(stack, 'fault', 200, 8);
    assert.equal(after.ids.length, 200, `after the invoker caught up: ${JSON.stringify(after.statuses)}`);
    await f.expectOneRecordEach(stack, after.ids, 30000);
    const log = require('node:fs').readFileSync(require('node:path').join(stack.state, 'logs', 'scheduler.log'), 'utf8');
    assert.match(log, /SQ_WORK is full \(.*SQ_JS_WORK_MAX_MB is 1 MB\)/, 'the scheduler says why');
    const warnings = log.split('\n').filter((l) => l.includes('SQ_WORK is full'));
    assert.ok(warnings.length <= 10, `one warning a second at most, not one per refusal: ${warnings.length}`);
    // and together they count every refusal, the last of the burst too
    const said = warnings.reduce((n, l) => n + Number((/: (\d+) non-blocking invocation/.exec(l) || [0, 0])[1]), 0);
    assert.equal(said, refused.length, `the warnings count ${said} refusals: ${warnings.join(' | ')}`);
  } finally {
    downStatus = f.stackDown(stack);
  }
  assert.equal(downStatus, 0, 'stack.sh down failed (sanitizer findings in the service logs?)');
});
