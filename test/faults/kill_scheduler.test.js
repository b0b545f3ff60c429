// kill -9 of the scheduler in the middle of a few thousand non-blocking invocations and of a
// few non-blocking sequences (which the scheduler itself runs): the scheduler is restarted
// (as systemd would); every activation id returned to the client has exactly one record
// (the sequences that were running are recorded as lost by the restarted scheduler), and
// the platform keeps serving.
'use strict';
const assert = require('node:assert/strict');
const { test } = require('node:test');
const f = require('./faults.js');

test('kill -9 of the scheduler under load loses no accepted activation', { timeout: 300000 }, async () => {
  await f.scenario({
    name: 'kill_scheduler',
    extra: async (stack) => {
      let r = await f.api(stack, 'PUT', '/namespaces/_/actions/slowpart?overwrite=true', {
        exec: { kind: 'nodejs:20', code: 'function main(a){return new Promise((r) => setTimeout(() => r(a), 1500))}' },
        limits: { memory: 128 },
      });
      assert.equal(r.status, 200, r.text);
      r = await f.api(stack, 'PUT', '/namespaces/_/actions/slowseq?overwrite=true', {
        exec: { kind: 'sequence', components: ['/_/slowpart', '/_/slowpart', '/_/slowpart', '/_/slowpart'] },
      });
      assert.equal(r.status, 200, r.text);
      const ids = [];
      for (let i = 0; i < 5; i++) {
        r = await f.api(stack, 'POST', '/namespaces/_/actions/slowseq', { i });
        assert.equal(r.status, 202, r.text);
        ids.push(r.json.activationId);
      }
      return async () => {
        await f.expectOneRecordEach(stack, ids, 60000);
        const lost = f.psql(stack, `SELECT count(*) FROM activations WHERE name = 'slowseq' AND status_code = 3`);
        f.log(`sequences recorded as lost: ${lost} of ${ids.length}`);
      };
    },
    fault: async (stack) => {
      await f.kill9(stack, 'scheduler');
      await f.sleep(1000);
      await f.restart(stack, 'scheduler');
    },
  });
});
