// A PostgreSQL restart (pg_ctl restart -m fast) in the middle of a few thousand non-blocking
// invocations: nothing else is restarted. The activation store keeps the records in
// JetStream while the database is away and writes them when it is back; every activation id
// returned to the client has exactly one record, and the platform keeps serving.
'use strict';
const { test } = require('node:test');
const f = require('./faults.js');

test('a PostgreSQL restart under load loses and duplicates no record', { timeout: 300000 }, async () => {
  await f.scenario({
    name: 'pg_restart',
    env: { SQ_ACT_ACK_WAIT_MS: '5000' },
    fault: async (stack) => {
      await f.pgRestart(stack);
    },
  });
});
