// `squall-admin user delete` while the registry and the activation store are down (kill -9):
// the purge of the namespace is durable (auth announces it on the JetStream stream
// SQ_TENANCY, each service follows it with a durable consumer of its own), so once they are
// back the namespace's entities and records are gone, although the same name was made again
// in between; and what the new namespace makes afterwards stays.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const f = require('./faults.js');

const BUILD = path.resolve(process.env.SQ_BUILD_DIR || path.join(__dirname, '..', '..', 'build'));

function admin(stack, ...args) {
  const out = execFileSync(path.join(BUILD, 'ops', 'squall-admin'), ['--url', stack.env.SQ_NATS_URL, '--token',
    stack.env.SQ_ADMIN_TOKEN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  return out.length ? JSON.parse(out) : {};
}

async function as(stack, key, method, p, body) {
  const res = await fetch(`${stack.env.SQ_API_HOST}/api/v1${p}`, {
    method,
    headers: { authorization: 'Basic ' + Buffer.from(key).toString('base64'), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}

test('user delete while the registry and the activation store are down: purged once they are back', { timeout: 300000 }, async () => {
  const stack = f.stackUp('tenancy_purge');
  try {
    const ns = 'purgeme';
    let key = admin(stack, 'user', 'create', ns).key;
    const ok = async (method, p, body) => {
      const r = await as(stack, key, method, p, body);
      assert.equal(r.status, 200, `${method} ${p}: ${r.status} ${r.text}`);
      return r.json;
    };
    await ok('PUT', '/namespaces/_/actions/old', { exec: { kind: 'nodejs:20', code: 'function main(a){return a}' } });
    await ok('PUT', '/namespaces/_/packages/oldpkg', {});
    await ok('PUT', '/namespaces/_/actions/oldpkg/inner', { exec: { kind: 'nodejs:20', code: 'function main(a){return a}' } });
    await ok('PUT', '/namespaces/_/triggers/oldt', {});
    await ok('PUT', '/namespaces/_/rules/oldr', { trigger: 'oldt', action: 'old' });
    const id = (await ok('POST', '/namespaces/_/actions/old?blocking=true', { n: 1 })).activationId;
    for (let i = 0; i < 100; i++) {
      if ((await as(stack, key, 'GET', `/namespaces/_/activations/${id}`)).status === 200) break;
      await f.sleep(100);
    }
    await ok('GET', `/namespaces/_/activations/${id}`);

    await f.kill9(stack, 'registry');
    await f.kill9(stack, 'activations');
    admin(stack, 'user', 'delete', ns);
    key = admin(stack, 'user', 'create', ns).key; // the same name, made again at once
    await f.restart(stack, 'registry');
    await f.restart(stack, 'activations');

    for (const kind of ['actions', 'packages', 'triggers', 'rules', 'activations']) {
      let list;
      for (let i = 0; i < 100; i++) {
        list = await ok('GET', `/namespaces/_/${kind}?limit=200`);
        if (list.length === 0) break;
        await f.sleep(100);
      }
      assert.deepEqual(list.map((x) => x.name), [], `the re-made namespace still has old ${kind}`);
    }
    assert.equal((await as(stack, key, 'GET', `/namespaces/_/activations/${id}`)).status, 404, 'the old record is readable');
    // the new namespace's own things stay (the purge took only what was written before it)
    await ok('PUT', '/namespaces/_/actions/new', { exec: { kind: 'nodejs:20', code: 'function main(){return {v: 1}}' } });
    const nid = (await ok('POST', '/namespaces/_/actions/new?blocking=true', {})).activationId;
    await f.sleep(1500);
    assert.deepEqual((await ok('GET', '/namespaces/_/actions')).map((a) => a.name), ['new']);
    await ok('GET', `/namespaces/_/activations/${nid}`);
  } finally {
    f.stackDown(stack);
  }
});

test('the record of an activation still running at user delete is purged too (second pass)', { timeout: 300000 }, async () => {
  const stack = f.stackUp('tenancy_late', { SQ_ACT_PURGE_AGAIN_MS: '4000' });
  try {
    const ns = 'lateone';
    let key = admin(stack, 'user', 'create', ns).key;
    let r = await as(stack, key, 'PUT', '/namespaces/_/actions/slow', {
      exec: { kind: 'nodejs:20', code: 'async function main(){ await new Promise((r) => setTimeout(r, 2500)); return {late: true} }' },
      limits: { timeout: 20000 },
    });
    assert.equal(r.status, 200, r.text);
    r = await as(stack, key, 'POST', '/namespaces/_/actions/slow', {});
    assert.equal(r.status, 202, r.text);
    const id = r.json.activationId;
    await f.sleep(500); // running
    admin(stack, 'user', 'delete', ns);
    const at = Date.now();
    key = admin(stack, 'user', 'create', ns).key;
    await f.sleep(6500 - (Date.now() - at)); // the record landed at ~2 s, the second pass ran at 4 s
    r = await as(stack, key, 'GET', `/namespaces/_/activations/${id}`);
    assert.equal(r.status, 404, `the old owner's late record is readable by the new owner of the name: ${r.text}`);
    assert.equal(f.psql(stack, `SELECT count(*) FROM activations WHERE namespace = '${ns}'`), '0');
    // it was there: the second pass found it
    const log = require('node:fs').readFileSync(path.join(stack.state, 'logs', 'activations.log'), 'utf8');
    assert.match(log, new RegExp(`purged 1 activation\\(s\\) of deleted namespace "${ns}"`), 'the second pass purged nothing');
  } finally {
    f.stackDown(stack);
  }
});
