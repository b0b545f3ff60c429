// The invoker's runtimes end to end through the REST API: python:3 (plain and zipped with
// __main__.py), nodejs zipped actions (package.json "main" and index.js), native executables
// (OpenWhisk's blackbox convention, and actionloop when annotated actionloop: true), the
// __OW_* environment of every runtime (and __OW_API_KEY only with provide-api-key: true, which
// new actions do not have unless they ask: the registry adds provide-api-key: false), intra-
// container concurrency for nodejs (limits.concurrency > 1) with logs kept per activation,
// and the invoker's heartbeat naming its warm containers per action.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const h = require('../harness/squall.js');

const created = [];

after(async () => {
  for (const n of created) await h.deleteAction(n).catch(() => {});
  await h.closeNats();
});

async function put(base, exec, extra = {}) {
  const name = h.uniqueName(base);
  created.push(name);
  await h.putAction(name, exec, extra, '?overwrite=true');
  return name;
}

const zip = h.zip;

const b64 = (s) => Buffer.from(s).toString('base64');

async function ok(name, params, want, ctx) {
  const res = await h.invoke(name, params);
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.equal(rec.response.status, 'success', `${ctx}: ${h.show(res)}`);
  if (want) assert.deepEqual(rec.response.result, want, `${ctx}: ${h.show(res)}`);
  return rec;
}

// an action that asks for the caller's key (new actions get provide-api-key: false)
const WITH_KEY = { annotations: [{ key: 'provide-api-key', value: true }] };

const ENV_NAMES = ['__OW_API_HOST', '__OW_NAMESPACE', '__OW_ACTION_NAME', '__OW_ACTIVATION_ID', '__OW_DEADLINE'];

function checkEnv(env, rec, withKey, ctx) {
  assert.equal(env.__OW_NAMESPACE, 'guest', `${ctx}: __OW_NAMESPACE ${JSON.stringify(env)}`);
  assert.equal(env.__OW_ACTION_NAME, `/guest/${rec.name}`, `${ctx}: __OW_ACTION_NAME ${JSON.stringify(env)}`);
  assert.equal(env.__OW_ACTIVATION_ID, rec.activationId, `${ctx}: __OW_ACTIVATION_ID ${JSON.stringify(env)}`);
  assert.match(String(env.__OW_API_HOST), /^https?:\/\//, `${ctx}: __OW_API_HOST ${JSON.stringify(env)}`);
  assert.ok(Number(env.__OW_DEADLINE) > Date.now() - 5000, `${ctx}: __OW_DEADLINE ${JSON.stringify(env)}`);
  if (withKey) assert.equal(env.__OW_API_KEY, h.stackEnv().key, `${ctx}: __OW_API_KEY ${JSON.stringify(env)}`);
  else assert.ok(!env.__OW_API_KEY, `${ctx}: __OW_API_KEY given although provide-api-key is false`);
}

// ---------------------------------------------------------------- python

const PY = `
import os, sys
def main(args):
    print('py stdout', args.get('n'))
    print('py stderr', file=sys.stderr)
    if args.get('raise'):
        raise RuntimeError('boom')
    if args.get('app'):
        return {'error': 'app said no'}
    env = {k: v for k, v in os.environ.items() if k.startswith('__OW_')}
    return {'n': args.get('n'), 'env': env}
`;

test('python:3: plain code, logs, __OW_* environment, cold then warm', async () => {
  const name = await put('py_plain', { kind: 'python:3', code: PY }, WITH_KEY);
  const t0 = Date.now();
  let res = await h.invoke(name, { n: 1 });
  h.expectStatus(res, 200);
  const rec = res.json;
  h.checkRecord(rec, { name, kind: 'python:3', cold: true, t0, t1: Date.now() }, 'python cold:');
  assert.equal(rec.response.result.n, 1);
  checkEnv(rec.response.result.env, rec, true, 'python');
  assert.equal(rec.logs.length, 2, JSON.stringify(rec.logs));
  assert.ok(rec.logs.some((l) => / stdout: py stdout 1$/.test(l)), JSON.stringify(rec.logs));
  assert.ok(rec.logs.some((l) => / stderr: py stderr$/.test(l)), JSON.stringify(rec.logs));
  res = await h.invoke(name, { n: 2 });
  h.expectStatus(res, 200);
  h.checkRecord(res.json, { name, kind: 'python:3', cold: false }, 'python warm:');
  assert.equal(res.json.logs.length, 2, `logs leaked between activations: ${JSON.stringify(res.json.logs)}`);
});

test('python:3: an exception is a developer error, {error} an application error', async () => {
  const name = await put('py_err', { kind: 'python:3', code: PY });
  let res = await h.invoke(name, { raise: true });
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'action developer error', h.show(res));
  assert.match(res.json.response.result.error, /boom/, h.show(res));
  assert.ok(res.json.logs.some((l) => /RuntimeError: boom/.test(l)), `no traceback in the logs: ${JSON.stringify(res.json.logs)}`);
  res = await h.invoke(name, { app: true });
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'application error', h.show(res));
  assert.deepEqual(res.json.response.result, { error: 'app said no' });
});

test('python:3: provide-api-key false keeps __OW_API_KEY out', async () => {
  const name = await put('py_nokey', { kind: 'python:3', code: PY }, { annotations: [{ key: 'provide-api-key', value: false }] });
  const rec = await ok(name, { n: 3 }, null, 'python no key');
  checkEnv(rec.response.result.env, rec, false, 'python no key');
});

test('python:3: an action created without provide-api-key gets provide-api-key false and no key', async () => {
  const name = await put('py_default', { kind: 'python:3', code: PY });
  const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${name}?code=false`), 200).json;
  assert.equal(h.annotation(got, 'provide-api-key'), false, `annotations ${JSON.stringify(got.annotations)}`);
  const rec = await ok(name, { n: 4 }, null, 'python default');
  checkEnv(rec.response.result.env, rec, false, 'python default');
});

test('python:3: a zip with __main__.py and a module beside it', async () => {
  const code = zip({
    '__main__.py': 'import helper\ndef main(args):\n    return {"v": helper.v(args.get("x", 0))}\n',
    'helper.py': 'def v(x):\n    return x * 2\n',
  });
  const name = await put('py_zip', { kind: 'python:3', code, binary: true });
  await ok(name, { x: 21 }, { v: 42 }, 'python zip');
});

// ---------------------------------------------------------------- nodejs zip

test('nodejs:20: a zip with package.json "main" and node_modules', async () => {
  const code = zip({
    'package.json': JSON.stringify({ name: 'zipped', main: 'lib/main.js' }),
    'lib/main.js': "const pad = require('leftpad'); exports.main = (a) => ({ v: pad(String(a.x), 5), env: process.env.__OW_ACTION_NAME });",
    'node_modules/leftpad/index.js': "module.exports = (s, n) => s.padStart(n, '0');",
  });
  const name = await put('node_zip', { kind: 'nodejs:20', code, binary: true });
  const rec = await ok(name, { x: 42 }, null, 'node zip');
  assert.deepEqual(rec.response.result, { v: '00042', env: `/guest/${name}` });
});

test('nodejs:20: a zip with index.js only; a Promise result', async () => {
  const code = zip({ 'index.js': 'module.exports.main = async (a) => ({ twice: a.x * 2 });' });
  const name = await put('node_zip_idx', { kind: 'nodejs:20', code, binary: true });
  await ok(name, { x: 4 }, { twice: 8 }, 'node zip index.js');
});

test('nodejs:20: a zip without an entry point is an init error', async () => {
  const code = zip({ 'other.js': 'exports.main = () => ({})' });
  const name = await put('node_zip_bad', { kind: 'nodejs:20', code, binary: true });
  const res = await h.invoke(name, {});
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'action developer error', h.show(res));
  assert.match(JSON.stringify(res.json.response.result), /package.json or index.js/, h.show(res));
});

// ---------------------------------------------------------------- native

const SCRIPT = `#!/bin/sh
echo "a log line"
echo "to stderr" >&2
printf '{"arg":%s,"ns":"%s","name":"%s","id":"%s","key":"%s","host":"%s","deadline":"%s"}\\n' \\
  "$1" "$__OW_NAMESPACE" "$__OW_ACTION_NAME" "$__OW_ACTIVATION_ID" "$__OW_API_KEY" "$__OW_API_HOST" "$__OW_DEADLINE"
`;

test('native: an executable script (blackbox: argv[1] in, last stdout line out)', async () => {
  const name = await put('native_bb', { kind: 'native', code: b64(SCRIPT), binary: true }, WITH_KEY);
  for (const cold of [true, false]) {
    const t0 = Date.now();
    const res = await h.invoke(name, { x: [1, 2] });
    h.expectStatus(res, 200);
    const rec = res.json;
    h.checkRecord(rec, { name, kind: 'native', cold, t0, t1: Date.now() }, `native ${cold ? 'cold' : 'warm'}:`);
    const r = rec.response.result;
    assert.deepEqual(r.arg, { x: [1, 2] });
    checkEnv({ __OW_NAMESPACE: r.ns, __OW_ACTION_NAME: r.name, __OW_ACTIVATION_ID: r.id, __OW_API_KEY: r.key,
      __OW_API_HOST: r.host, __OW_DEADLINE: r.deadline }, rec, true, 'native');
    assert.equal(rec.logs.length, 2, JSON.stringify(rec.logs));
    assert.ok(rec.logs.some((l) => / stdout: a log line$/.test(l)), JSON.stringify(rec.logs));
    assert.ok(rec.logs.some((l) => / stderr: to stderr$/.test(l)), JSON.stringify(rec.logs));
  }
});

test('native: a zip holding exec; a last line that is no object is a developer error', async () => {
  const name = await put('native_zip', { kind: 'native', binary: true,
    code: zip({ '*exec': '#!/bin/sh\n. ./lib.sh\nv\n', 'lib.sh': 'v() { echo "{\\"from\\":\\"zip\\"}"; }\n' }) });
  await ok(name, {}, { from: 'zip' }, 'native zip');
  const bad = await put('native_nodict', { kind: 'native', binary: true, code: b64('#!/bin/sh\necho 42\n') });
  const res = await h.invoke(bad, {});
  h.expectStatus(res, 502);
  assert.equal(res.json.response.status, 'action developer error', h.show(res));
  assert.match(res.json.response.result.error, /did not return a dictionary/, h.show(res));
});

test('native: an ELF binary', async () => {
  // /usr/bin/printf through a tiny wrapper is not an ELF; compile one when a compiler exists
  let elf;
  try {
    const src = '#include <stdio.h>\nint main(int c, char **v) { printf("{\\"elf\\":true,\\"argc\\":%d}\\n", c); return 0; }\n';
    const out = `/tmp/sq-elf-${process.pid}`;
    execFileSync('gcc', ['-x', 'c', '-o', out, '-'], { input: src });
    elf = require('node:fs').readFileSync(out).toString('base64');
    require('node:fs').rmSync(out, { force: true });
  } catch (e) {
    return; // no compiler on this host: covered by the script cases
  }
  const name = await put('native_elf', { kind: 'native', code: elf, binary: true });
  await ok(name, {}, { elf: true, argc: 2 }, 'native elf');
});

test('native: an actionloop program (annotation actionloop) is kept warm and keeps its state', async () => {
  const prog = `#!/usr/bin/python3
import json, os, sys
out = os.fdopen(3, 'w')
if os.environ.get('__OW_WAIT_FOR_ACK'):
    out.write('{"ok": true}\\n'); out.flush()
count = 0
for line in sys.stdin:
    msg = json.loads(line)
    count += 1
    print('loop', count, flush=True)
    out.write(json.dumps({'count': count, 'pid': os.getpid(), 'id': msg['activation_id'], 'v': msg['value']}) + '\\n')
    out.flush()
`;
  const name = await put('native_loop', { kind: 'native', code: b64(prog), binary: true },
    { annotations: [{ key: 'actionloop', value: true }] });
  const a = await ok(name, { k: 1 }, null, 'actionloop 1');
  const b = await ok(name, { k: 2 }, null, 'actionloop 2');
  assert.equal(a.response.result.count, 1, JSON.stringify(a.response.result));
  assert.equal(b.response.result.count, 2, `not kept warm: ${JSON.stringify(b.response.result)}`);
  assert.equal(a.response.result.pid, b.response.result.pid);
  assert.equal(b.response.result.id, b.activationId);
  assert.deepEqual(b.response.result.v, { k: 2 });
  assert.ok(b.logs.some((l) => / stdout: loop 2$/.test(l)) && b.logs.length === 1, JSON.stringify(b.logs));
});

// ---------------------------------------------------------------- concurrency

test('nodejs:20 limits.concurrency 4: activations share one container, each with its own logs', async () => {
  const code = `
let pid = process.pid;
async function main(a) {
  console.log('begin ' + a.i);
  await new Promise((r) => setTimeout(r, 600));
  console.log('end ' + a.i);
  return { i: a.i, pid };
}`;
  const name = await put('node_conc', { kind: 'nodejs:20', code }, { limits: { concurrency: 4 } });
  await ok(name, { i: 0 }, null, 'concurrent warm-up');
  const t0 = Date.now();
  const recs = await Promise.all([1, 2, 3, 4].map((i) => ok(name, { i }, null, `concurrent ${i}`)));
  const ms = Date.now() - t0;
  assert.ok(ms < 4 * 600, `4 activations of 600 ms took ${ms} ms: not concurrent`);
  const pids = new Set(recs.map((r) => r.response.result.pid));
  assert.equal(pids.size, 1, `served by ${pids.size} containers`);
  for (const r of recs) {
    const i = r.response.result.i;
    assert.equal(r.logs.length, 2, `activation ${i} logs: ${JSON.stringify(r.logs)}`);
    assert.match(r.logs[0], new RegExp(` stdout: begin ${i}$`));
    assert.match(r.logs[1], new RegExp(` stdout: end ${i}$`));
  }
});

// ---------------------------------------------------------------- heartbeat

test('the invoker heartbeat counts its containers per action', async () => {
  const name = await put('hb_probe', h.nodeAction('function main(){return {}}'));
  await ok(name, {}, null, 'heartbeat probe');
  const nc = await h.nats();
  const sub = nc.subscribe('sq.invoker.heartbeat');
  const deadline = Date.now() + 5000;
  let seen = null;
  for await (const m of sub) {
    const hb = h.unpack(m.data);
    if (hb.actions && hb.actions[`guest/${name}`] >= 1) { seen = hb; break; }
    if (Date.now() > deadline) break;
  }
  sub.unsubscribe();
  assert.ok(seen, 'no heartbeat named the warm container within 5 s');
  assert.ok(Number.isInteger(seen.started) && seen.started > 0, `heartbeat without "started": ${JSON.stringify(seen)}`);
});
