// An action's identity changes with every write: a deleted and re-created action (whose
// version starts again at 0.0.1) or an updated one never runs its predecessor's code, even
// while the predecessor's container is warm and the scheduler has it cached.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const created = [];
after(async () => {
  for (const n of created) await h.deleteAction(n).catch(() => {});
});

function b64(s) {
  return Buffer.from(s).toString('base64');
}

const KINDS = {
  'nodejs:20': (tag) => ({ kind: 'nodejs:20', code: `function main(){return {code:'${tag}'}}` }),
  'python:3': (tag) => ({ kind: 'python:3', code: `def main(a):\n    return {"code": "${tag}"}\n` }),
  native: (tag) => ({ kind: 'native', binary: true,
    code: b64(`#!/bin/sh\necho '{"code":"${tag}"}'\n`) }),
};

async function resultOf(name) {
  const res = await h.invoke(name, {}, 'blocking=true&result=true');
  h.expectStatus(res, 200);
  return res.json && res.json.code;
}

for (const [kind, make] of Object.entries(KINDS)) {
  const name = h.uniqueName(`ident_${kind.replace(/[^a-z0-9]/g, '')}`);
  created.push(name);

  test(`${kind}: delete, re-create with the same name, invoke: the new code runs`, async () => {
    await h.putAction(name, make('old'));
    // twice, so a warm container with the old code is certainly in the pool
    assert.equal(await resultOf(name), 'old');
    assert.equal(await resultOf(name), 'old');
    h.expectStatus(await h.deleteAction(name), 200);
    const again = await h.putAction(name, make('new'));
    assert.equal(again.version, '0.0.1', 'a re-created action starts again at 0.0.1');
    for (let i = 0; i < 3; i++) {
      assert.equal(await resultOf(name), 'new', `invoke ${i + 1} after the re-create ran the old code`);
    }
  });

  test(`${kind}: update with overwrite, invoke: the new code runs`, async () => {
    await h.putAction(name, make('v1'), {}, '?overwrite=true');
    assert.equal(await resultOf(name), 'v1');
    await h.putAction(name, make('v2'), {}, '?overwrite=true');
    assert.equal(await resultOf(name), 'v2');
    assert.equal(await resultOf(name), 'v2');
  });
}

test('a packaged action: delete the package, re-create both, invoke: the new code runs', async () => {
  const pkg = h.uniqueName('identpkg');
  const put = async (tag) => {
    h.expectStatus(await h.api('PUT', `/namespaces/_/packages/${pkg}`, { body: {} }), 200);
    h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${pkg}/a`, { body: { exec: KINDS['nodejs:20'](tag) } }), 200);
  };
  const run = async () => {
    const res = await h.api('POST', `/namespaces/_/actions/${pkg}/a?blocking=true&result=true`, { body: {} });
    h.expectStatus(res, 200);
    return res.json.code;
  };
  try {
    await put('old');
    assert.equal(await run(), 'old');
    assert.equal(await run(), 'old');
    h.expectStatus(await h.api('DELETE', `/namespaces/_/packages/${pkg}?force=true`), 200);
    await put('new');
    assert.equal(await run(), 'new');
    assert.equal(await run(), 'new');
  } finally {
    await h.api('DELETE', `/namespaces/_/packages/${pkg}?force=true`).catch(() => {});
  }
});
