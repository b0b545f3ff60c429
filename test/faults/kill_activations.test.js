// kill -9 of the activation store in the middle of a few thousand non-blocking invocations:
// the records wait in JetStream; the store is restarted (as systemd would) and writes them,
// each exactly once (a batch stored but not acknowledged comes again and is not stored
// twice). The platform keeps serving.
'use strict';
const { test } = require('node:test');
const f = require('./faults.js');

test('kill -9 of the activation store under load loses and duplicates no record', { timeout: 300000 }, async () => {
  await f.scenario({
    name: 'kill_activations',
    env: { SQ_ACT_ACK_WAIT_MS: '5000' },
    fault: async (stack) => {
      await f.kill9(stack, 'activations');
      await f.sleep(2000);
      await f.restart(stack, 'activations');
    },
  });
});
