// Hostile actions against the invoker's sandbox and pool, through the REST API: an infinite
// loop, a fork bomb, allocating past the memory limit, 100 MB of logs, gigabytes into /tmp,
// reading another action's code or the platform's files, connecting to NATS or PostgreSQL,
// exiting mid-run, garbage on fd 3, an init that never answers. Each must end in a correct
// activation record, and afterwards the invoker must answer its health check and run a
// well-behaved action.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const h = require('../harness/squall.js');

const created = [];
const GOOD = h.uniqueName('hostile_good');

async function put(base, code, extra = {}, kind = 'nodejs:20') {
  const name = h.uniqueName(base);
  created.push(name);
  await h.putAction(name, { kind, code }, extra, '?overwrite=true');
  return name;
}

before(async () => {
  created.push(GOOD);
  await h.putAction(GOOD, h.nodeAction("function main(a){return {fine: true, n: a.n}}"), {}, '?overwrite=true');
});

after(async () => {
  for (const n of created) await h.deleteAction(n).catch(() => {});
  await h.closeNats();
});

// The invoker is healthy and runs a well-behaved action.
async function stillHealthy(ctx) {
  const hr = await h.natsRequest('sq.invoker.health', {}, 5000);
  assert.equal(hr.value.ok, true, `${ctx}: invoker health ${JSON.stringify(hr.value)}`);
  const n = Math.floor(Math.random() * 1e6);
  const res = await h.invoke(GOOD, { n });
  h.expectStatus(res, 200);
  assert.deepEqual(res.json.response.result, { fine: true, n }, `${ctx}: the next good action: ${h.show(res)}`);
}

function devError(res, pattern, ctx) {
  h.expectStatus(res, 502);
  const rec = res.json;
  assert.equal(rec.response.status, 'action developer error', `${ctx}: ${h.show(res)}`);
  assert.equal(rec.response.statusCode, 2, `${ctx}: ${h.show(res)}`);
  if (pattern) assert.match(String(rec.response.result && rec.response.result.error), pattern, `${ctx}: ${h.show(res)}`);
  return rec;
}

// The stored record matches the blocking answer (the record is the platform's promise).
async function stored(rec, ctx) {
  const got = await h.pollActivation(rec.activationId);
  assert.equal(got.response.status, rec.response.status, `${ctx}: stored record differs`);
  return got;
}

// Whether the stack's invoker enforces memory and pids limits (it says so in its log at
// start; without cgroups it only accounts memory, and these two cases cannot hold).
function invokerHasCgroups() {
  try {
    const text = fs.readFileSync(`${h.stackEnv().stateDir}/logs/invoker.log`, 'utf8');
    const lines = text.split('\n').filter((l) => / sandbox: /.test(l));
    return lines.length > 0 && /cgroup v[12]/.test(lines[lines.length - 1]);
  } catch (e) {
    return true; // no log to read: expect the limits
  }
}

function hostProcesses() {
  return fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x)).length;
}

test('an infinite loop is stopped at its time limit', async () => {
  const name = await put('loop', 'function main(){ for(;;){} }', { limits: { timeout: 1000 } });
  const t0 = Date.now();
  const res = await h.invoke(name, {});
  const rec = devError(res, /^The action exceeded its time limits of 1000 milliseconds\.$/, 'loop');
  assert.ok(Date.now() - t0 < 10000, 'the loop ran far past its limit');
  assert.equal(h.annotation(rec, 'timeout'), true, `no timeout annotation: ${JSON.stringify(rec.annotations)}`);
  await stored(rec, 'loop');
  await stillHealthy('after a loop');
});

test('a fork bomb is capped by the pids limit and destroyed with its container', async (t) => {
  if (!invokerHasCgroups()) return t.skip('the invoker has no cgroups on this host (see its log)');
  const before = hostProcesses();
  const name = await put('forkbomb', `
const { spawn } = require('child_process');
function main() {
  for (let i = 0; i < 50; i++) {
    try { spawn('/bin/sh', ['-c', 'b(){ b | b & }; b'], { stdio: 'ignore', detached: true }).on('error', () => {}); } catch (e) {}
  }
  return new Promise(() => {}); // never answers: the container goes at the time limit
}`, { limits: { timeout: 3000 } });
  const res = await h.invoke(name, {});
  devError(res, /exceeded its time limits of 3000 milliseconds/, 'fork bomb');
  let after = hostProcesses();
  for (let i = 0; i < 50 && after > before + 50; i++) {
    await h.sleep(100);
    after = hostProcesses();
  }
  assert.ok(after <= before + 50, `the fork bomb left processes behind: ${before} before, ${after} after`);
  await stillHealthy('after a fork bomb');
});

test('allocating past the memory limit ends in "The action exhausted its memory and was aborted."', async (t) => {
  if (!invokerHasCgroups()) return t.skip('the invoker has no cgroups on this host (see its log)');
  const name = await put('oom', `
const keep = [];
function main() { for (let i = 0; i < 200; i++) keep.push(Buffer.alloc(16 << 20, 7)); return { allocated: keep.length }; }`,
  { limits: { memory: 128 } });
  const res = await h.invoke(name, {});
  const rec = devError(res, /^The action exhausted its memory and was aborted\.$/, 'oom');
  await stored(rec, 'oom');
  await stillHealthy('after an OOM kill');
});

test('100 MB of logs: cut at limits.logs with the truncation line, the action succeeds', async () => {
  const name = await put('biglogs', `
function main() { const line = 'x'.repeat(1023); for (let i = 0; i < 100 * 1024; i++) console.log(line); return { done: true }; }`,
  { limits: { logs: 1, timeout: 60000 } });
  const res = await h.invoke(name, {}, 'blocking=true', { timeoutMs: 60000 });
  h.expectStatus(res, 200);
  const rec = res.json;
  assert.deepEqual(rec.response.result, { done: true });
  const last = rec.logs[rec.logs.length - 1];
  assert.match(last, /stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes\.$/, last);
  const bytes = rec.logs.reduce((n, l) => n + l.length, 0);
  assert.ok(bytes < 2 * 1048576, `${bytes} bytes of logs kept with a 1 MB limit`);
  await stillHealthy('after 100 MB of logs');
  const again = await h.invoke(name, {}, 'blocking=true', { timeoutMs: 60000 });
  h.expectStatus(again, 200);
});

test('writing gigabytes into /tmp hits the size limit of the private /tmp', async () => {
  const name = await put('tmpfill', `
const fs = require('fs');
function main() {
  const chunk = Buffer.alloc(1 << 20, 1);
  let written = 0, code = null;
  const fd = fs.openSync('/tmp/fill', 'w');
  try { for (let i = 0; i < 4096; i++) { fs.writeSync(fd, chunk); written++; } } catch (e) { code = e.code; }
  fs.closeSync(fd);
  fs.unlinkSync('/tmp/fill');
  return { written, code };
}`, { limits: { memory: 256, timeout: 30000 } });
  const res = await h.invoke(name, {});
  const rec = res.json;
  if (rec.response.status === 'success') {
    assert.equal(rec.response.result.code, 'ENOSPC', h.show(res));
    assert.ok(rec.response.result.written <= 256, `wrote ${rec.response.result.written} MB into a 256 MB sandbox`);
  } else {
    devError(res, /exhausted its memory/, 'tmp fill'); // or the memory limit came first
  }
  await stillHealthy('after filling /tmp');
});

test("another action's code and the platform's files are out of reach", async () => {
  const secret = 'SECRET_' + h.uniqueName('code');
  const victim = await put('victim', `const s = '${secret}'; function main(){ return new Promise((r) => setTimeout(() => r({s}), 3000)); }`);
  const env = h.stackEnv();
  const spy = await put('spy', `
const fs = require('fs');
function tryRead(p) { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return null; } }
function list(p) { try { return fs.readdirSync(p); } catch (e) { return []; } }
function main(a) {
  const found = [];
  const look = (where, text) => { if (text && text.includes(a.secret)) found.push(where); };
  for (const pid of list('/proc').filter((x) => /^\\d+$/.test(x))) {
    look('/proc/' + pid + '/cmdline', tryRead('/proc/' + pid + '/cmdline'));
    look('/proc/' + pid + '/environ', tryRead('/proc/' + pid + '/environ'));
  }
  for (const f of list('/action')) look('/action/' + f, tryRead('/action/' + f));
  for (const f of list('/tmp')) look('/tmp/' + f, tryRead('/tmp/' + f));
  const platform = {};
  for (const p of a.files) platform[p] = tryRead(p) !== null || list(p).length > 0;
  return { found, platform, procs: list('/proc').filter((x) => /^\\d+$/.test(x)).length };
}`);
  const pending = h.invoke(victim, {}); // the victim runs meanwhile
  await h.sleep(500);
  const files = [`${env.stateDir}/guest.key`, `${env.stateDir}/env`, `${env.stateDir}/nats/nats.conf`,
    `${env.stateDir}/pg/data/postgresql.conf`, `${env.stateDir}/admin.token`, `${env.stateDir}/logs`,
    `${h.ROOT}/ops/squall`, '/etc/shadow', '/root', '/proc/1/root/etc/shadow', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];
  const res = await h.invoke(spy, { secret, files });
  h.expectStatus(res, 200);
  const r = res.json.response.result;
  assert.deepEqual(r.found, [], `the spy read the victim's code at ${JSON.stringify(r.found)}`);
  const open = Object.entries(r.platform).filter(([, v]) => v).map(([k]) => k);
  assert.deepEqual(open, [], `the spy can read platform files: ${JSON.stringify(open)}`);
  assert.ok(r.procs < 10, `the spy sees ${r.procs} processes`);
  const v = await pending;
  h.expectStatus(v, 200);
  assert.equal(v.json.response.result.s, secret);
  await stillHealthy('after the spy');
});

test('NATS and PostgreSQL stay out of reach of an action', async (t) => {
  const env = h.stackEnv();
  const natsPort = Number(new URL(env.natsUrl.replace(/^nats:/, 'http:')).port);
  const pgPort = Number(env.vars.SQ_PG_PORT);
  const name = await put('netprobe', `
const net = require('net');
function talk(port, hello, ms) {
  return new Promise((resolve) => {
    let data = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => { if (hello) s.write(hello); });
    s.on('data', (d) => { data += d; });
    s.on('error', (e) => resolve({ connected: false, error: e.code }));
    setTimeout(() => { s.destroy(); resolve({ connected: true, data: data.slice(0, 2000) }); }, ms);
  });
}
async function main(a) {
  const nats = await talk(a.nats, 'CONNECT {"verbose":false,"pedantic":false}\\r\\nSUB sq.> 1\\r\\nPUB sq.act.guest 2\\r\\nhi\\r\\nPING\\r\\n', 1500);
  const pg = await talk(a.pg, null, 300);
  return { nats, pg };
}`, { limits: { timeout: 10000 } });
  const res = await h.invoke(name, { nats: natsPort, pg: pgPort });
  h.expectStatus(res, 200);
  const { nats, pg } = res.json.response.result;
  // PostgreSQL listens on a unix socket in the state dir only, which the sandbox does not see
  assert.equal(pg.connected && pg.data.length > 0, false, `the action reached PostgreSQL: ${JSON.stringify(pg)}`);
  await stillHealthy('after the network probe');
  // NATS: reachable over the network (it is on, as in OpenWhisk), so only credentials can
  // keep an action out. Find out whether this stack's NATS asks for them.
  const anonymous = await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: natsPort }, () => s.write('CONNECT {"verbose":false}\r\nPING\r\n'));
    let d = '';
    s.on('data', (x) => { d += x; if (/PONG|-ERR/.test(d)) { s.destroy(); resolve(/PONG/.test(d)); } });
    s.on('error', () => resolve(false));
    setTimeout(() => { s.destroy(); resolve(false); }, 2000);
  });
  if (anonymous) {
    t.skip('this stack\'s NATS accepts connections without credentials (DESIGN: "NATS itself is secured"): ' +
      'the sandbox keeps the network on, so an action can reach it until NATS requires a user');
    return;
  }
  assert.ok(!/\bMSG sq\./.test(nats.data) && !/\+OK|PONG/.test(nats.data) && (/Authorization/i.test(nats.data) || !nats.connected),
    `the action talked to NATS without credentials: ${JSON.stringify(nats)}`);
});

test('exiting in the middle of a run: developer error, a new container next time', async () => {
  const name = await put('exit', `
let runs = 0;
function main(a) { runs++; if (a.exit) { console.log('bye'); process.exit(3); } return { runs }; }`);
  const res = await h.invoke(name, { exit: true });
  const rec = devError(res, /^The action did not produce a valid response and exited unexpectedly\.$/, 'exit');
  assert.ok(rec.logs.some((l) => / stdout: bye$/.test(l)), `the logs before the exit are lost: ${JSON.stringify(rec.logs)}`);
  const next = await h.invoke(name, {});
  h.expectStatus(next, 200);
  assert.deepEqual(next.json.response.result, { runs: 1 }, 'the next run is not in a fresh container');
  await stillHealthy('after an exit');
});

test('garbage on fd 3: developer error, the container is replaced', async () => {
  const name = await put('fd3', `
let runs = 0;
function main(a) { runs++; if (a.garbage) require('fs').writeSync(3, 'this is not json\\n'); return { runs }; }`);
  const res = await h.invoke(name, { garbage: true });
  devError(res, /^The action did not produce a valid JSON response\.$/, 'fd 3 garbage');
  const next = await h.invoke(name, {});
  h.expectStatus(next, 200);
  assert.deepEqual(next.json.response.result, { runs: 1 });
  await stillHealthy('after garbage on fd 3');
});

test('an init that never answers is stopped at the time limit', async () => {
  const name = await put('noinit', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\nfunction main(){ return {}; }',
    { limits: { timeout: 1500 } });
  const res = await h.invoke(name, {});
  devError(res, /^The action exceeded its time limits of 1500 milliseconds during initialization\.$/, 'no init');
  const py = await put('noinit_py', 'import time\ntime.sleep(3600)\ndef main(a):\n    return {}\n', { limits: { timeout: 1500 } }, 'python:3');
  devError(await h.invoke(py, {}), /during initialization/, 'python no init');
  await stillHealthy('after a silent init');
});
