// kill -9 of the scheduler in the middle of a few thousand non-blocking invocations: the
// scheduler is restarted (as systemd would); every activation id returned to the client
// has exactly one record, and the platform keeps serving.
'use strict';
const { test } = require('node:test');
const f = require('./faults.js');

test('kill -9 of the scheduler under load loses no accepted activation', { timeout: 300000 }, async () => {
  await f.scenario({
    name: 'kill_scheduler',
    fault: async (stack) => {
      await f.kill9(stack, 'scheduler');
      await f.sleep(1000);
      await f.restart(stack, 'scheduler');
    },
  });
});
