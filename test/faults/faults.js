// Helpers of the fault tests (test/faults/*.test.js): each test starts a private stack of its
// own with test/harness/stack.sh, fires a few thousand non-blocking invocations at it over
// HTTP keep-alive, breaks one component in the middle (kill -9 of a service, a PostgreSQL
// restart), restarts what it broke as systemd would, and then checks in PostgreSQL that
// every activation id returned to the client has exactly one record, and that the platform
// still serves. Not a test file itself (no .test.js suffix).
'use strict';

const assert = require('node:assert/strict');
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { readEnvFile } = require('../harness/squall.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(process.env.SQ_BUILD_DIR || path.join(ROOT, 'build'));
const STACK = path.join(ROOT, 'test', 'harness', 'stack.sh');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...a);

// The SQ_* variables of a stack's env file (sourced by bash, as the services see it).
function readEnv(state) {
  return readEnvFile(path.join(state, 'env'));
}

// Starts a private stack in <build>/test-faults/<name> with extra environment for the
// services; returns {state, env}.
function stackUp(name, extraEnv = {}) {
  const state = path.join(BUILD, 'test-faults', name);
  fs.mkdirSync(path.dirname(state), { recursive: true });
  log(`starting a stack in ${state}`);
  execFileSync('bash', [STACK, 'up', state, BUILD], {
    env: Object.assign({}, process.env, { SQ_BUILD_DIR: BUILD }, extraEnv),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { state, env: readEnv(state), extraEnv };
}

function stackDown(stack) {
  if (!stack) return;
  const r = spawnSync('bash', [STACK, 'down', stack.state, BUILD], {
    env: Object.assign({}, process.env, { SQ_BUILD_DIR: BUILD }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) log(`stack.sh down exited ${r.status}`);
  return r.status;
}

function pidOf(stack, svc) {
  return Number(fs.readFileSync(path.join(stack.state, 'pids', `${svc}.pid`), 'utf8').trim());
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^State:\s+(\w)/m);
    return !st || (st[1] !== 'Z' && st[1] !== 'X');
  } catch {
    return false;
  }
}

// kill -9 of one service of the stack; waits until it is gone.
async function kill9(stack, svc) {
  const pid = pidOf(stack, svc);
  log(`kill -9 ${svc} (pid ${pid})`);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  assert.ok(!alive(pid), `${svc} (pid ${pid}) survived kill -9`);
}

// The NATS URL of service svc's own user, as ops/squall gives it (its permissions are the
// service's); '' in a state dir from before NATS users.
function serviceNatsUrl(stack, svc) {
  const users = path.join(stack.state, 'nats', 'users');
  if (!fs.existsSync(users)) return '';
  const line = fs.readFileSync(users, 'utf8').split('\n').find((l) => l.startsWith(`${svc} `));
  return line ? `nats://${svc}:${line.split(' ')[1]}@127.0.0.1:${stack.env.SQ_NATS_PORT}` : '';
}

// Starts one service again the way ops/squall does (environment of the stack, its log,
// its pid file, a session of its own), then waits until it answers health.
async function restart(stack, svc) {
  const bin = path.join(BUILD, 'services', svc, `squall-${svc}`);
  const logFd = fs.openSync(path.join(stack.state, 'logs', `${svc}.log`), 'a');
  fs.writeSync(logFd, `\n=== restarted by the fault test ===\n`);
  const url = serviceNatsUrl(stack, svc);
  // its own PostgreSQL role, as ops/squall gives it (pg_dsn): the password file names it
  let dsn = '';
  const pass = path.join(stack.state, 'pgpass', svc);
  if (fs.existsSync(pass)) {
    dsn = `host=${path.join(stack.state, 'pg', 'run')} port=${stack.env.SQ_PG_PORT} dbname=squall user=sq_${svc} passfile=${pass}`;
  }
  const child = spawn('bash', ['-c',
    'set -a; . "$0"; set +a; [[ $1 == auth ]] || unset SQ_ADMIN_TOKEN; unset SQ_NATS_USER SQ_NATS_PASS; ' +
    '[[ -n $4 ]] && export SQ_NATS_URL=$4; [[ -n $5 ]] && export SQ_PG_DSN=$5; echo $$ > "$2"; exec "$3"',
    path.join(stack.state, 'env'), svc, path.join(stack.state, 'pids', `${svc}.pid`), bin, url, dsn],
  { detached: true, stdio: ['ignore', logFd, logFd], env: Object.assign({}, process.env, stack.extraEnv) });
  child.unref();
  fs.closeSync(logFd);
  log(`restarted ${svc} (pid ${child.pid})`);
  await waitHealthy(stack, [svc]);
}

async function waitHealthy(stack, svcs, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync(path.join(BUILD, 'ops', 'squall-health'),
      ['--url', stack.env.SQ_NATS_URL, '--timeout-ms', '500', ...svcs], { stdio: 'ignore' });
    if (r.status === 0) return;
    if (Date.now() > deadline) assert.fail(`${svcs.join(', ')} not healthy after ${timeoutMs} ms`);
    await sleep(200);
  }
}

function pgBin(tool) {
  const dirs = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  for (const d of dirs) {
    const p = `/usr/lib/postgresql/${d}/bin/${tool}`;
    if (fs.existsSync(p)) return p;
  }
  return tool;
}

// pg_ctl <op> -m fast of the stack's cluster (start, stop, restart), as postgres when root,
// without blocking the event loop (a firehose may go on meanwhile).
async function pgCtl(stack, op) {
  // the real path: the cluster may live outside a state dir postgres cannot reach (pg_place)
  const pg = fs.realpathSync(path.join(stack.state, 'pg'));
  const args = ['-D', path.join(pg, 'data'), '-l', path.join(pg, 'postgres.log'),
    '-m', 'fast', '-w', '-t', '60', op];
  const root = process.getuid && process.getuid() === 0;
  log(`pg_ctl ${op} -m fast`);
  const child = root ? spawn('runuser', ['-u', 'postgres', '--', pgBin('pg_ctl'), ...args], { cwd: '/', stdio: 'ignore' })
    : spawn(pgBin('pg_ctl'), args, { cwd: '/', stdio: 'ignore' });
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, `pg_ctl ${op} exited ${code}`);
}

async function pgRestart(stack) {
  await pgCtl(stack, 'restart');
  log('PostgreSQL is back');
}

function psql(stack, sql) {
  return execFileSync(pgBin('psql'), ['-h', path.join(stack.state, 'pg', 'run'), '-p', stack.env.SQ_PG_PORT,
    '-U', 'postgres', '-d', 'squall', '-XtAq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
}

function basic(key) {
  return 'Basic ' + Buffer.from(key).toString('base64');
}

async function api(stack, method, p, body, timeoutMs = 30000) {
  const res = await fetch(`${stack.env.SQ_API_HOST}/api/v1${p}`, {
    method,
    headers: { authorization: basic(stack.env.SQ_GUEST_KEY), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}

// Raises the guest namespace's limits (the firehose is far above 120 a minute).
function raiseLimits(stack) {
  execFileSync(path.join(BUILD, 'ops', 'squall-admin'), ['--url', stack.env.SQ_NATS_URL, '--token',
    stack.env.SQ_ADMIN_TOKEN, 'namespace', 'limits', 'set', 'guest', 'invocationsPerMinute=10000000',
    'concurrentInvocations=10000000'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// Creates the action the firehose invokes and warms it (one blocking invoke).
async function prepare(stack, name = 'fault', code = 'function main(a){return {n: a.n}}',
  limits = { memory: 128, timeout: 10000 }) {
  raiseLimits(stack);
  let r = await api(stack, 'PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    exec: { kind: 'nodejs:20', code }, limits,
  });
  assert.equal(r.status, 200, `PUT action: ${r.status} ${r.text}`);
  for (let i = 0; i < 50; i++) {
    r = await api(stack, 'POST', `/namespaces/_/actions/${name}?blocking=true&result=true`, { n: 0 });
    if (r.status === 200) return;
    await sleep(200);
  }
  assert.fail(`warm-up invoke: ${r.status} ${r.text}`);
}

// Fires n non-blocking invocations of action over `conns` keep-alive connections. onAccepted
// (count) runs after every accepted one (the test breaks something at some count). Returns
// {ids (every activation id answered with 202), statuses: {code: count}, ms}.
function firehose(stack, action, n, conns, onAccepted) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const auth = basic(stack.env.SQ_GUEST_KEY);
  const port = Number(stack.env.SQ_GATEWAY_PORT);
  const ids = [];
  const statuses = {};
  let sent = 0, finished = 0;
  const t0 = Date.now();
  return new Promise((resolve) => {
    const one = () => {
      if (sent >= n) return;
      const i = sent++;
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', agent, timeout: 30000,
        path: `/api/v1/namespaces/_/actions/${action}`,
        headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => {
          statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
          if (res.statusCode === 202) {
            let id;
            try { id = JSON.parse(b).activationId; } catch { id = undefined; }
            assert.match(String(id), /^[0-9a-f]{32}$/, `202 without an activation id: ${b}`);
            ids.push(id);
            if (onAccepted) onAccepted(ids.length);
          }
          next();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        statuses[e.code || e.message] = (statuses[e.code || e.message] || 0) + 1;
        next();
      });
      req.end(JSON.stringify({ n: i }));
    };
    const next = () => {
      if (++finished === n) {
        agent.destroy();
        resolve({ ids, statuses, ms: Date.now() - t0 });
      } else {
        one();
      }
    };
    for (let c = 0; c < conns; c++) one();
  });
}

// Waits (up to timeoutMs) until every id has a record; then asserts that each has exactly
// one. Counting is done in PostgreSQL.
async function expectOneRecordEach(stack, ids, timeoutMs = 90000) {
  const file = path.join(stack.state, 'ids.csv');
  fs.writeFileSync(file, ids.join('\n') + '\n');
  fs.chmodSync(file, 0o644);
  const sql = `CREATE TEMP TABLE w (id uuid); \\copy w FROM '${file}'\n` +
    'SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1), count(*) FILTER (WHERE n = 0) ' +
    'FROM (SELECT w.id, (SELECT count(*) FROM activations a WHERE a.id = w.id) AS n FROM w) x';
  const deadline = Date.now() + timeoutMs;
  let one = 0, dup = 0, missing = ids.length;
  for (;;) {
    const out = execFileSync(pgBin('psql'), ['-h', path.join(stack.state, 'pg', 'run'), '-p', stack.env.SQ_PG_PORT,
      '-U', 'postgres', '-d', 'squall', '-XtAq', '-v', 'ON_ERROR_STOP=1'], { input: sql, stdio: ['pipe', 'pipe', 'inherit'] })
      .toString().trim().split('\n').pop();
    [one, dup, missing] = out.split('|').map(Number);
    if (missing === 0 || dup > 0 || Date.now() > deadline) break;
    await sleep(1000);
  }
  log(`records of the ${ids.length} accepted ids: ${one} exactly once, ${dup} more than once, ${missing} missing`);
  assert.equal(dup, 0, `${dup} activation ids have more than one record`);
  assert.equal(missing, 0, `${missing} accepted activation ids have no record after ${timeoutMs} ms`);
  assert.equal(one, ids.length);
  // the REST API agrees (count of the namespace's records covers at least the accepted ones)
  const c = await api(stack, 'GET', '/namespaces/_/activations?count=true');
  assert.equal(c.status, 200, `count: ${c.status} ${c.text}`);
  assert.ok(c.json.activations >= ids.length, `REST count ${c.json.activations} < ${ids.length}`);
}

// The platform still serves: a blocking invoke answers 200 with the result.
async function expectServing(stack, action = 'fault') {
  let r;
  for (let i = 0; i < 50; i++) {
    r = await api(stack, 'POST', `/namespaces/_/actions/${action}?blocking=true&result=true`, { n: 42 });
    if (r.status === 200) break;
    await sleep(200);
  }
  assert.equal(r.status, 200, `blocking invoke after the fault: ${r.status} ${r.text}`);
  assert.deepEqual(r.json, { n: 42 });
}

// Runs a whole fault scenario: stack, action, firehose of n with `fault` run once when
// `at` invocations were accepted, checks. fault(stack) may be async.
async function scenario({ name, env = {}, n = 3000, conns = 16, at = 1000, fault, recordTimeoutMs = 90000, code, extra }) {
  let stack, downStatus = 0;
  try {
    stack = stackUp(name, env);
    await prepare(stack, 'fault', code);
    const check = extra ? await extra(stack) : null; // more work in flight when the fault hits
    let faulted = null;
    const fire = firehose(stack, 'fault', n, conns, (count) => {
      if (count === at && !faulted) faulted = Promise.resolve().then(() => fault(stack));
    });
    const res = await fire;
    if (faulted) await faulted;
    else await fault(stack); // the run ended before `at` accepted ones: break it now
    log(`fired ${n} in ${res.ms} ms: ${JSON.stringify(res.statuses)}`);
    assert.ok(res.ids.length >= n / 3, `too few invocations accepted (${res.ids.length} of ${n}): ${JSON.stringify(res.statuses)}`);
    await expectOneRecordEach(stack, res.ids, recordTimeoutMs);
    if (check) await check();
    await expectServing(stack);
    // and it takes more work after the fault
    const after = await firehose(stack, 'fault', 200, 8);
    assert.equal(after.ids.length, 200, `after the fault: ${JSON.stringify(after.statuses)}`);
    await expectOneRecordEach(stack, after.ids, 30000);
  } finally {
    downStatus = stackDown(stack);
  }
  assert.equal(downStatus, 0, 'stack.sh down failed (sanitizer findings in the service logs?)');
}

module.exports = { sleep, log, alive, stackUp, stackDown, kill9, restart, waitHealthy, pgBin, pgCtl, pgRestart, psql, api,
  raiseLimits, prepare, firehose, expectOneRecordEach, expectServing, scenario, pidOf, serviceNatsUrl };
