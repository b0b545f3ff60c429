// Health per instance (issue 13): every service answers sq.<svc>.health and
// sq.<svc>.health.<instance> with {ok, service, pid, instance, host, started, checks,
// failed}, checking what it uses (PostgreSQL: auth, registry, activations; JetStream: all
// but the gateway). The gateway answers GET /healthz and GET /readyz without a key. The
// invoker's instance is its id, which is also in every activation record it makes, and a
// second invoker claiming that id is refused. The failing side (PostgreSQL stopped) is in
// test/faults/auth_stale.test.js.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness/squall.js');

after(() => h.closeNats());

const CHECKS = {
  gateway: [], auth: ['jetstream', 'postgresql'], registry: ['jetstream', 'postgresql'],
  activations: ['jetstream', 'postgresql'], scheduler: ['jetstream'], invoker: ['jetstream'], triggers: ['jetstream'],
};

function invokerId() {
  const env = h.stackEnv();
  if (env.vars.SQ_INVOKER_ID) return env.vars.SQ_INVOKER_ID;
  return fs.readFileSync(path.join(env.vars.SQ_INVOKER_STATE_DIR, 'invoker-id'), 'utf8').trim();
}

test('every service answers its health and its instance health, with its checks', async () => {
  for (const [svc, checks] of Object.entries(CHECKS)) {
    const { value } = await h.natsRequest(`sq.${svc}.health`, {}, 5000);
    assert.equal(value.service, svc);
    assert.equal(value.ok, true, `${svc}: ${JSON.stringify(value)}`);
    assert.match(value.instance, /^[A-Za-z0-9_-]+$/);
    assert.equal(typeof value.host, 'string');
    assert.ok(value.started > 0 && value.started <= Date.now());
    assert.deepEqual(Object.keys(value.checks).sort(), checks, `${svc} checks ${JSON.stringify(value.checks)}`);
    for (const c of checks) assert.equal(value.checks[c], 'ok');
    assert.deepEqual(value.failed, []);
    const own = await h.natsRequest(`sq.${svc}.health.${value.instance}`, {}, 5000);
    assert.equal(own.value.instance, value.instance);
    assert.equal(own.value.pid, value.pid);
    // another instance's subject: nobody answers
    await assert.rejects(h.natsRequest(`sq.${svc}.health.no-such-instance`, {}, 500));
  }
  const inv = await h.natsRequest('sq.invoker.health', {}, 5000);
  assert.equal(inv.value.instance, invokerId(), 'the invoker\'s instance is its id');
});

test('GET /healthz and /readyz without a key', async () => {
  const env = h.stackEnv();
  let r = await fetch(`${env.apiHost}/healthz`);
  assert.equal(r.status, 200);
  const live = await r.json();
  assert.equal(live.ok, true);
  assert.equal(live.service, 'gateway');
  let ready;
  for (let i = 0; i < 50; i++) {
    r = await fetch(`${env.apiHost}/readyz`);
    ready = await r.json();
    if (r.status === 200) break;
    await h.sleep(200);
  }
  assert.equal(r.status, 200, `readyz: ${JSON.stringify(ready)}`);
  assert.equal(ready.ok, true);
  assert.deepEqual(ready.failed, []);
  for (const svc of ['auth', 'registry', 'scheduler', 'invoker', 'activations', 'triggers']) {
    assert.ok(ready.services[svc].length >= 1 && ready.services[svc].every((a) => a.service === svc),
      `${svc} in readyz: ${JSON.stringify(ready.services[svc])}`);
  }
  r = await fetch(`${env.apiHost}/readyz`, { method: 'HEAD' });
  assert.equal(r.status, 200);
});

test('the activation record names the invoker that ran it', async () => {
  const name = h.uniqueName('whoran');
  await h.putAction(name, h.nodeAction('function main(a){return {ok: true}}'));
  const r = await h.invoke(name, {}, 'blocking=true');
  h.expectStatus(r, 200);
  assert.equal(h.annotation(r.json, 'invoker'), invokerId(), JSON.stringify(r.json.annotations));
  const rec = await h.pollActivation(r.json.activationId);
  assert.equal(h.annotation(rec, 'invoker'), invokerId());
  await h.deleteAction(name);
});

test('a second invoker with a live invoker\'s id refuses to start', async () => {
  const env = h.stackEnv();
  const bin = path.join(env.vars.SQ_BUILD_DIR, 'services', 'invoker', 'squall-invoker');
  const id = invokerId();
  // the invoker's own NATS user when the stack has one per service
  let url = env.natsUrl;
  const users = path.join(env.stateDir, 'nats', 'users');
  if (fs.existsSync(users)) {
    const line = fs.readFileSync(users, 'utf8').split('\n').find((l) => l.startsWith('invoker '));
    if (line) url = `nats://invoker:${line.split(' ')[1]}@127.0.0.1:${env.vars.SQ_NATS_PORT}`;
  }
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH, SQ_NATS_URL: url, SQ_INVOKER_ID: id, SQ_INVOKER_SANDBOX: 'false',
      SQ_INVOKER_PREWARM: '0', SQ_INVOKER_PREWARM_PYTHON: '0', SQ_INVOKER_PREWARM_NATIVE: '0',
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve('timeout'); }, 20000);
    child.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  assert.equal(code, 1, `the second invoker exited ${code}; its log:\n${out}`);
  assert.match(out, new RegExp(`refusing to start: invoker id "${id}" is taken by a live invoker`));
  // and the first one still serves
  const { value } = await h.natsRequest(`sq.invoker.health.${id}`, {}, 5000);
  assert.equal(value.ok, true);
});
