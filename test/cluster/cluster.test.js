// The cluster test (issue 13, `ctest -L cluster`): on loopback, 3 nats-servers in a JetStream
// cluster (streams and buckets R3) with the per-service users and permissions ops/squall
// gives (`ops/squall nats-authz`), the stack's one PostgreSQL, 2 gateways, 2 schedulers, 3
// invokers and 2 of every other service, each connected with the list of the 3 servers as
// seeds. Under a steady mixed load (blocking and non-blocking invokes through both gateways,
// trigger fires), kill -9 in turn: the nats-server leading SQ_WORK, the one leading
// SQ_ACTIVATIONS, a gateway, a scheduler together with an invoker, an activation store; then
// PostgreSQL is restarted. Each killed process is started again after a while, as systemd
// would.
//
// Counted at the end: every activation id returned to a client has exactly one record, and
// that record's status is the one the client was told (a blocking invoke's answer). Printed:
// the seconds with errors after each kill (requests sent to a killed gateway are not
// errors of the platform: they were on the killed process). The goals (<= 6 s for a NATS
// leader loss, 0 for the other kills) are asserted with SQ_CLUSTER_STRICT=1 only: on a
// shared 2-core machine running ASan builds the timings are noise.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const f = require('../faults/faults.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(process.env.SQ_BUILD_DIR || path.join(ROOT, 'build'));
const { sleep, log, alive } = f;

const COPIES = { auth: 2, registry: 2, activations: 2, triggers: 2, invoker: 3, scheduler: 2, gateway: 2 };
const ORDER = ['auth', 'registry', 'activations', 'triggers', 'invoker', 'scheduler', 'gateway'];
const PG_SERVICES = ['auth', 'registry', 'activations'];
const STATUS_CODE = { success: 0, 'application error': 1, 'action developer error': 2, 'whisk internal error': 3 };

let stack = null;
const nodes = []; // {name, port, cport, mport, conf, log, proc}
const inst = new Map(); // "svc-i" -> {svc, i, proc, env, log}
let users = {};
let nc = null;

function freePorts(n) {
  return execFileSync(path.join(ROOT, 'ops', 'free-port'), [String(n)]).toString().trim().split('\n').map(Number);
}

async function kill9(pid, what) {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  assert.ok(!alive(pid), `${what} (pid ${pid}) survived kill -9`);
}

// ---- NATS cluster ------------------------------------------------------------------------

// The authorization block ops/squall writes into nats.conf, with the stack's passwords.
function authorization() {
  const block = execFileSync(path.join(ROOT, 'ops', 'squall'), ['nats-authz'], {
    env: Object.assign({}, process.env, { SQ_STATE_DIR: stack.state }),
  }).toString();
  return block.split('\n').map((l) => {
    const m = l.match(/\{ user: "([^"]+)", password: "<password>"/);
    return m ? l.replace('<password>', users[m[1]]) : l;
  }).join('\n');
}

function writeNodeConf(n, routes, authz) {
  const dir = path.join(stack.state, 'cluster', n.name);
  fs.mkdirSync(path.join(dir, 'js'), { recursive: true });
  fs.writeFileSync(n.conf, [
    `server_name: "${n.name}"`,
    `listen: "127.0.0.1:${n.port}"`,
    `http: "127.0.0.1:${n.mport}"`,
    'max_payload: 64MB',
    `cluster { name: "sqc", listen: "127.0.0.1:${n.cport}", routes: [${routes}] }`,
    `jetstream { store_dir: "${path.join(dir, 'js')}", max_memory_store: 256MB, max_file_store: 4GB }`,
    authz,
  ].join('\n') + '\n', { mode: 0o600 });
}

function startNode(n) {
  const fd = fs.openSync(n.log, 'a');
  n.proc = spawn('nats-server', ['-c', n.conf], { stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
}

async function waitNodeReady(n, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${n.mport}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) assert.fail(`nats-server ${n.name} not healthy after ${timeoutMs} ms`);
    await sleep(200);
  }
}

function seeds() {
  return nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
}

async function streamInfoOnce(name) {
  const msg = await nc.request(`$JS.API.STREAM.INFO.${name}`, new Uint8Array(0), { timeout: 5000 });
  return JSON.parse(Buffer.from(msg.data).toString('utf8'));
}

// A stream's info once the cluster answers with it: right after the services start, a stream
// may still be being created or electing its first leader (the API answers with an error then).
async function streamInfo(name, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await streamInfoOnce(name);
      if (last.config) return last;
    } catch (e) { last = { error: String(e) }; }
    if (Date.now() > deadline) assert.fail(`stream ${name}: no info in ${timeoutMs} ms: ${JSON.stringify(last.error || last)}`);
    await sleep(250);
  }
}

// The stream's leader once it has one and every replica is current (after a node came back).
async function settled(name, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let si;
  for (;;) {
    try {
      si = await streamInfoOnce(name);
      const c = si.cluster || {};
      if (c.leader && (c.replicas || []).length === 2 && c.replicas.every((r) => r.current && !r.offline)) return si;
    } catch { /* no leader yet */ }
    if (Date.now() > deadline) assert.fail(`stream ${name} not settled: ${JSON.stringify(si && si.cluster)}`);
    await sleep(250);
  }
}

// ---- services --------------------------------------------------------------------------

function startInstance(svc, i) {
  const key = `${svc}-${i}`;
  const bin = path.join(BUILD, 'services', svc, `squall-${svc}`);
  const logFile = path.join(stack.state, 'logs', `${key}.log`);
  const env = Object.assign({}, process.env, stack.env, stack.extraEnv, {
    SQ_NATS_URL: seeds(), SQ_NATS_USER: svc, SQ_NATS_PASS: users[svc],
    SQ_INSTANCE_ID: key,
  });
  delete env.SQ_TEST_ENV;
  if (svc !== 'auth') delete env.SQ_ADMIN_TOKEN;
  if (PG_SERVICES.includes(svc)) {
    env.SQ_PG_DSN = `host=${path.join(stack.state, 'pg', 'run')} port=${stack.env.SQ_PG_PORT} dbname=squall ` +
      `user=sq_${svc} passfile=${path.join(stack.state, 'pgpass', svc)}`;
  } else {
    delete env.SQ_PG_DSN;
  }
  if (svc === 'gateway') env.SQ_GATEWAY_PORT = String(stack.gwPorts[i - 1]);
  if (svc === 'invoker') {
    env.SQ_INVOKER_ID = `cinv${i}`;
    env.SQ_INVOKER_STATE_DIR = path.join(stack.state, `invoker-${i}`);
    fs.mkdirSync(env.SQ_INVOKER_STATE_DIR, { recursive: true, mode: 0o700 });
  }
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n=== ${new Date().toISOString()} started by the cluster test ===\n`);
  const proc = spawn(bin, [], { stdio: ['ignore', fd, fd], detached: true, env });
  fs.closeSync(fd);
  inst.set(key, { svc, i, proc, log: logFile });
  return proc;
}

async function waitInstance(svc, i, timeoutMs = 60000) {
  const url = nodes.map((n) => `nats://ops:${users.ops}@127.0.0.1:${n.port}`).join(',');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = inst.get(`${svc}-${i}`).proc;
    assert.ok(alive(p.pid), `${svc}-${i} exited at start (log ${inst.get(`${svc}-${i}`).log})`);
    try {
      const msg = await nc.request(`sq.${svc}.health.${svc === 'invoker' ? `cinv${i}` : `${svc}-${i}`}`,
        new Uint8Array([0x80]), { timeout: 1000 });
      if (msg.data.length > 0) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) assert.fail(`${svc}-${i} not healthy after ${timeoutMs} ms (${url.replace(/:[^:@]*@/g, ':***@')})`);
    await sleep(250);
  }
}

// kill -9 of the instance; returns its restart function.
async function killInstance(key) {
  const it = inst.get(key);
  log(`kill -9 ${key} (pid ${it.proc.pid})`);
  await kill9(it.proc.pid, key); // its sandboxes stay: the restarted copy cleans them up
  return async () => {
    startInstance(it.svc, it.i);
    await waitInstance(it.svc, it.i);
    log(`${key} is back`);
  };
}

// ---- load ------------------------------------------------------------------------------

function basic(key) {
  return 'Basic ' + Buffer.from(key).toString('base64');
}

// One request through gateway gw (index); resolves {t0, t1, gw, kind, code, id, told, err}.
function request(agent, gw, kind, n) {
  const pathOf = {
    blocking: '/api/v1/namespaces/_/actions/cl?blocking=true',
    nonblocking: '/api/v1/namespaces/_/actions/cl',
    fire: '/api/v1/namespaces/_/triggers/clt',
  };
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: stack.gwPorts[gw], method: 'POST', agent, timeout: 30000,
      path: pathOf[kind],
      headers: { authorization: basic(stack.env.SQ_GUEST_KEY), 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => {
        let j = null;
        try { j = JSON.parse(b); } catch { /* not JSON */ }
        const out = { t0, t1: Date.now(), gw, kind, code: res.statusCode, id: j && j.activationId, told: null };
        if (kind === 'blocking' && j && j.response && j.response.status !== undefined) out.told = STATUS_CODE[j.response.status];
        if (!(res.statusCode === 200 || res.statusCode === 202)) out.err = `${res.statusCode} ${b.slice(0, 160)}`;
        resolve(out);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ t0, t1: Date.now(), gw, kind, code: 0, err: e.code || e.message }));
    req.end(JSON.stringify({ n }));
  });
}

// Steady load: `loops` loops, each a request then a pause, alternating gateways and kinds.
function load(loops, pauseMs) {
  const agents = stack.gwPorts.map(() => new http.Agent({ keepAlive: true, maxSockets: loops }));
  const results = [];
  let stop = false, n = 0;
  const kinds = ['blocking', 'nonblocking', 'blocking', 'fire'];
  const one = async (l) => {
    for (let k = l; !stop; k++) {
      const gw = k % 2, kind = kinds[(k >> 1) % kinds.length];
      results.push(await request(agents[gw], gw, kind, n++));
      await sleep(pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: loops }, (_, l) => one(l)));
  return {
    results,
    async stop() {
      stop = true;
      await done;
      for (const a of agents) a.destroy();
    },
  };
}

// ---- the test --------------------------------------------------------------------------

// Stops every instance (SIGTERM: invokers remove their containers; SIGKILL of the process
// group after 15 s), then the NATS nodes, then the stack (PostgreSQL; sanitizer and secret
// checks over every log, ours included).
after(async () => {
  if (nc) await nc.close().catch(() => {});
  const procs = [...inst.values()].map((it) => it.proc).concat(nodes.map((n) => n.proc)).filter((p) => p && alive(p.pid));
  for (const p of procs) process.kill(p.pid, 'SIGTERM');
  for (let i = 0; i < 150 && procs.some((p) => alive(p.pid)); i++) await sleep(100);
  for (const p of procs) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await sleep(300);
  if (stack) {
    const rc = f.stackDown(stack);
    assert.equal(rc, 0, 'stack.sh down failed (sanitizer findings or a secret in the logs?)');
  }
});

test('a 3-node JetStream cluster, N copies of every service, kill -9 in turn: no acknowledged activation lost', { timeout: 600000 }, async () => {
  const t00 = Date.now();
  // the stack's PostgreSQL, users and keys; its one-node NATS and services go away
  stack = f.stackUp('cluster', { SQ_INVOKER_NETWORK: 'none', SQ_INVOKER_PREWARM: '1', SQ_INVOKER_PREWARM_PYTHON: '0',
    SQ_INVOKER_PREWARM_NATIVE: '0', SQ_INVOKER_MEMORY_MB: '1024', SQ_LOG_LEVEL: 'info' });
  for (const svc of [...ORDER].reverse().concat(['nats'])) {
    const pid = f.pidOf(stack, svc);
    if (alive(pid)) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  }
  for (const l of fs.readFileSync(path.join(stack.state, 'nats', 'users'), 'utf8').split('\n')) {
    const [u, p] = l.split(' ');
    if (u && p) users[u] = p;
  }
  stack.gwPorts = freePorts(2);
  const ports = freePorts(9);
  for (let k = 0; k < 3; k++) {
    nodes.push({ name: `n${k + 1}`, port: ports[k], cport: ports[3 + k], mport: ports[6 + k],
      conf: path.join(stack.state, 'cluster', `n${k + 1}.conf`), log: path.join(stack.state, 'logs', `nats-n${k + 1}.log`) });
  }
  const routes = nodes.map((n) => `"nats-route://127.0.0.1:${n.cport}"`).join(', ');
  const authz = authorization();
  for (const n of nodes) writeNodeConf(n, routes, authz);
  for (const n of nodes) startNode(n);
  for (const n of nodes) await waitNodeReady(n);
  const { connect } = require('nats');
  nc = await connect({ servers: nodes.map((n) => `127.0.0.1:${n.port}`), user: 'ops', pass: users.ops,
    inboxPrefix: '_INBOX_ops', name: 'squall-cluster-test', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  log(`NATS cluster up: ${nodes.map((n) => `${n.name}=${n.port}`).join(' ')}`);

  // all at once, as ops/squall does: an invoker waits for the scheduler's SQ_WORK
  for (const svc of ORDER) for (let i = 1; i <= COPIES[svc]; i++) startInstance(svc, i);
  for (const svc of ORDER) for (let i = 1; i <= COPIES[svc]; i++) await waitInstance(svc, i, 90000);
  log(`services up: ${[...inst.keys()].join(' ')} (${((Date.now() - t00) / 1000).toFixed(1)} s since start)`);
  for (const s of ['SQ_WORK', 'SQ_ACTIVATIONS', 'SQ_TENANCY', 'KV_SQ_RUNS', 'SQ_TRIGGER_EVENTS']) {
    const si = await streamInfo(s);
    assert.equal(si.config.num_replicas, 3, `${s}: ${si.config.num_replicas} replicas, want 3 (SQ_JS_REPLICAS auto)`);
  }
  assert.equal((await streamInfo('SQ_ACTIVATIONS')).config.retention, 'limits');

  // the action, a trigger and a rule (through gateway 1)
  stack.env.SQ_API_HOST = `http://127.0.0.1:${stack.gwPorts[0]}`;
  // the guest's limits far above the load (URL list and token by environment: no secret in
  // a command line)
  execFileSync(path.join(BUILD, 'ops', 'squall-admin'), ['namespace', 'limits', 'set', 'guest',
    'invocationsPerMinute=10000000', 'concurrentInvocations=10000000'], { stdio: ['ignore', 'ignore', 'inherit'],
    env: Object.assign({}, process.env, { SQ_ADMIN_TOKEN: stack.env.SQ_ADMIN_TOKEN,
      SQ_NATS_URL: nodes.map((n) => `nats://ops:${users.ops}@127.0.0.1:${n.port}`).join(',') }) });
  let r = await f.api(stack, 'PUT', '/namespaces/_/actions/cl?overwrite=true',
    { exec: { kind: 'nodejs:20', code: 'function main(a){return {n: a.n}}' }, limits: { memory: 128, timeout: 5000 } });
  assert.equal(r.status, 200, r.text);
  r = await f.api(stack, 'PUT', '/namespaces/_/triggers/clt?overwrite=true', {});
  assert.equal(r.status, 200, r.text);
  r = await f.api(stack, 'PUT', '/namespaces/_/rules/clr?overwrite=true', { trigger: '/_/clt', action: '/_/cl' });
  assert.equal(r.status, 200, r.text);
  for (let i = 0; i < 100; i++) {
    r = await f.api(stack, 'POST', '/namespaces/_/actions/cl?blocking=true&result=true', { n: 0 });
    if (r.status === 200) break;
    await sleep(200);
  }
  assert.equal(r.status, 200, `warm-up: ${r.status} ${r.text}`);

  // load, and the kills in turn
  const L = load(4, 60);
  const events = []; // {name, t, gw (killed gateway index), until}
  const phase = async (name, fn, settleMs = 12000) => {
    const ev = { name, t: Date.now() };
    events.push(ev);
    const restart = await fn(ev);
    await sleep(settleMs);
    if (restart) await restart();
    ev.back = Date.now();
    await sleep(4000);
  };
  await sleep(8000);
  const killLeader = (stream) => async (ev) => {
    const si = await settled(stream);
    const n = nodes.find((x) => x.name === si.cluster.leader);
    log(`kill -9 nats-server ${n.name}, leader of ${stream} (pid ${n.proc.pid})`);
    ev.name += ` (${n.name})`;
    ev.t = Date.now();
    await kill9(n.proc.pid, n.name);
    return async () => {
      startNode(n);
      await waitNodeReady(n);
      await settled(stream);
      log(`${n.name} is back, ${stream} settled`);
    };
  };
  await phase('NATS leader of SQ_WORK', killLeader('SQ_WORK'));
  await phase('NATS leader of SQ_ACTIVATIONS', killLeader('SQ_ACTIVATIONS'));
  await phase('gateway-2', async (ev) => { ev.gw = 1; return killInstance('gateway-2'); }, 6000);
  await phase('scheduler-1 + invoker-1', async () => {
    const [a, b] = await Promise.all([killInstance('scheduler-1'), killInstance('invoker-1')]);
    return async () => { await a(); await b(); };
  }, 6000);
  await phase('activations-1', async () => killInstance('activations-1'), 6000);
  await phase('PostgreSQL restart', async () => { await f.pgRestart(stack); return null; }, 2000);
  await sleep(4000);
  await L.stop();
  const res = L.results;
  log(`load: ${res.length} requests in ${((res[res.length - 1].t1 - res[0].t0) / 1000).toFixed(0)} s`);

  // errors per kill: the seconds (wall clock) with at least one failed request between the
  // kill and the next one; requests to a killed gateway while it was down do not count
  const rows = [];
  for (let k = 0; k < events.length; k++) {
    const ev = events[k], end = k + 1 < events.length ? events[k + 1].t : Infinity;
    const errs = res.filter((x) => x.err && x.t1 >= ev.t && x.t1 < end &&
      !(ev.gw !== undefined && x.gw === ev.gw && x.t0 < ev.back + 2000));
    const secs = new Set(errs.map((x) => Math.floor(x.t1 / 1000)));
    const kinds = {};
    for (const e of errs) kinds[String(e.err).slice(0, 60)] = (kinds[String(e.err).slice(0, 60)] || 0) + 1;
    rows.push({ kill: ev.name, errorSeconds: secs.size, errors: errs.length, kinds });
  }
  const before = res.filter((x) => x.err && x.t1 < events[0].t).length;
  console.log('\nseconds of errors each kill caused:');
  for (const row of rows) console.log(`  ${row.kill.padEnd(40)} ${String(row.errorSeconds).padStart(3)} s  (${row.errors} failed requests${row.errors ? ': ' + JSON.stringify(row.kinds) : ''})`);
  console.log(`  before the first kill: ${before} failed requests\n`);
  assert.equal(before, 0, 'errors before any kill');

  // every id returned to a client: exactly one record, with the status the client was told
  const ids = res.filter((x) => (x.code === 200 || x.code === 202) && x.id);
  const told = new Map(ids.filter((x) => x.told !== null && x.told !== undefined).map((x) => [x.id, x.told]));
  assert.ok(ids.length > 100, `only ${ids.length} ids returned`);
  const file = path.join(stack.state, 'cluster-ids.csv');
  fs.writeFileSync(file, ids.map((x) => `${x.id},${told.has(x.id) ? told.get(x.id) : ''}`).join('\n') + '\n');
  fs.chmodSync(file, 0o644);
  const sql = `CREATE TEMP TABLE w (id uuid, told smallint); \\copy w FROM '${file}' WITH (FORMAT csv)\n` +
    'SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1), count(*) FILTER (WHERE n = 0), ' +
    "count(*) FILTER (WHERE n = 1 AND told IS NOT NULL AND st <> told), string_agg(CASE WHEN n = 0 THEN w.id::text END, ' ') " +
    'FROM (SELECT w.id, w.told, (SELECT count(*) FROM activations a WHERE a.id = w.id) AS n, ' +
    '(SELECT min(status_code) FROM activations a WHERE a.id = w.id) AS st FROM w) w';
  const pg = fs.realpathSync(path.join(stack.state, 'pg'));
  let one = 0, dup = 0, missing = ids.length, wrong = 0, which = '';
  const deadline = Date.now() + 120000;
  for (;;) {
    const out = execFileSync(pgPsql(), ['-h', path.join(pg, 'run'), '-p', stack.env.SQ_PG_PORT, '-U', 'postgres',
      '-d', 'squall', '-XtAq', '-v', 'ON_ERROR_STOP=1'], { input: sql, stdio: ['pipe', 'pipe', 'inherit'] })
      .toString().trim().split('\n').pop();
    [one, dup, missing, wrong] = out.split('|').slice(0, 4).map(Number);
    which = out.split('|')[4] || '';
    if ((missing === 0 && wrong === 0) || dup > 0 || Date.now() > deadline) break;
    await sleep(2000);
  }
  log(`records of the ${ids.length} ids returned (${told.size} with a status told): ${one} exactly once, ` +
    `${dup} more than once, ${missing} missing, ${wrong} with another status than told`);
  if (missing) {
    log(`missing: ${which.split(' ').slice(0, 20).join(' ')}`);
    await explainMissing(which.split(' ').filter(Boolean), ids, events);
  }
  assert.equal(dup, 0, `${dup} ids have more than one record`);
  assert.equal(missing, 0, `${missing} acknowledged activations have no record`);
  assert.equal(wrong, 0, `${wrong} records have another status than the client was told`);

  // a record JetStream refused while a stream elected its leader is published again by a
  // retry thread that pauses between attempts, and said once: not resent from the ack thread
  // as fast as "no responders" comes back (the triggers did: 18 000 times one record)
  const again = new Map();
  const logDir = path.join(stack.state, 'logs');
  for (const f of fs.readdirSync(logDir).filter((x) => /^(triggers|invoker)-\d+\.log$/.test(x))) {
    const text = fs.readFileSync(path.join(logDir, f), 'utf8');
    for (const m of text.matchAll(/activation "([0-9a-f]{32})" not yet stored|resending trigger activation "([0-9a-f]{32})"/g)) {
      const id = m[1] || m[2];
      again.set(id, (again.get(id) || 0) + 1);
    }
  }
  const most = [...again.entries()].sort((a, b) => b[1] - a[1])[0];
  log(`records published again: ${again.size}${most ? `, at most ${most[1]} times (${most[0]})` : ''}`);
  assert.ok(!most || most[1] <= 3, `record ${most && most[0]} was published again ${most && most[1]} times`);

  if (process.env.SQ_CLUSTER_STRICT === '1') {
    for (const row of rows) {
      const goal = row.kill.startsWith('NATS') ? 6 : 0;
      assert.ok(row.errorSeconds <= goal, `${row.kill}: ${row.errorSeconds} s of errors, goal ${goal}`);
    }
  }
  log(`cluster test done in ${((Date.now() - t00) / 1000).toFixed(0)} s`);
});

// What a failed count needs to be understood from CI's output alone: the missing ids by
// kind and by the phase they were accepted in, what the service logs say of the first ones,
// every sweep of SQ_ACTIVATIONS and every store error, what nats-server said of the stream
// (a copy reset, a new leader), and the stream's and the store consumer's state now.
async function explainMissing(missingIds, ids, events) {
  const hex = (id) => id.replace(/-/g, '');
  const byId = new Map(ids.map((x) => [hex(x.id), x]));
  const counts = {};
  for (const id of missingIds) {
    const x = byId.get(hex(id));
    let phase = 'before the first kill';
    for (const ev of events) if (x && x.t0 >= ev.t) phase = `after: ${ev.name}`;
    const k = `${x ? x.kind : '?'}, ${phase}`;
    counts[k] = (counts[k] || 0) + 1;
  }
  console.log('missing by kind and phase:');
  for (const [k, n] of Object.entries(counts)) console.log(`  ${String(n).padStart(5)}  ${k}`);
  const logDir = path.join(stack.state, 'logs');
  const logs = fs.readdirSync(logDir).filter((f) => f.endsWith('.log'));
  const grep = (re, max) => {
    const out = [];
    for (const f of logs) {
      for (const l of fs.readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
        if (re.test(l)) out.push(`  ${f}: ${l.slice(0, 300)}`);
      }
    }
    return out.slice(0, max);
  };
  for (const id of missingIds.slice(0, 3)) {
    const lines = grep(new RegExp(hex(id)), 1000);
    console.log(`log lines of ${hex(id)} (${lines.length}):\n${lines.slice(0, 4).concat(lines.slice(4).slice(-4)).join('\n') || '  (none)'}`);
  }
  console.log(`sweeps and store errors:\n${grep(/purged records|could not store|dropped:/, 30).join('\n') || '  (none)'}`);
  console.log(`nats-server on SQ_ACTIVATIONS:\n${grep(/SQ_ACTIVATIONS'(?! >)|SQ_ACTIVATIONS': /, 40).join('\n') || '  (none)'}`);
  try {
    const si = await streamInfoOnce('SQ_ACTIVATIONS');
    const ci = JSON.parse(Buffer.from((await nc.request('$JS.API.CONSUMER.INFO.SQ_ACTIVATIONS.activations',
      new Uint8Array(0), { timeout: 5000 })).data).toString('utf8'));
    console.log(`SQ_ACTIVATIONS now: ${JSON.stringify(si.state)} leader ${si.cluster && si.cluster.leader}`);
    console.log(`its consumer "activations": ${JSON.stringify({ delivered: ci.delivered, ack_floor: ci.ack_floor,
      num_pending: ci.num_pending, num_ack_pending: ci.num_ack_pending, leader: ci.cluster && ci.cluster.leader })}`);
  } catch (e) {
    console.log(`no stream or consumer info: ${e.message}`);
  }
}

function pgPsql() {
  const dirs = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  for (const d of dirs) if (fs.existsSync(`/usr/lib/postgresql/${d}/bin/psql`)) return `/usr/lib/postgresql/${d}/bin/psql`;
  return 'psql';
}
