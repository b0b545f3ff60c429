// kill -9 of the invoker in the middle of a few thousand non-blocking invocations. The
// scheduler takes the silent invoker out within the heartbeat TTL (3 s) and records the
// work it had taken as "whisk internal error"; the invoker is restarted (as systemd would)
// and runs the work it had not taken. Every activation id returned to the client has
// exactly one record, and the platform keeps serving.
'use strict';
const { test } = require('node:test');
const f = require('./faults.js');

test('kill -9 of the invoker under load loses no accepted activation', { timeout: 300000 }, async () => {
  await f.scenario({
    name: 'kill_invoker',
    env: { SQ_SCHED_LOST_GRACE_MS: '5000' },
    // each activation takes a while, so that the invoker dies with work in hand
    code: 'function main(a){return new Promise((r) => setTimeout(() => r({n: a.n}), 20))}',
    recordTimeoutMs: 120000, // work the dead invoker had fetched but not taken comes back after its AckWait
    fault: async (stack) => {
      await f.kill9(stack, 'invoker');
      await f.sleep(+(process.env.SQ_FAULT_RESTART_MS || 4000)); // beyond the heartbeat TTL: the scheduler declares it dead
      await f.restart(stack, 'invoker');
    },
  });
});
