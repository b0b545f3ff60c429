// Observability (issue 13): GET /metrics at the gateway (every instance's Prometheus series,
// gathered over NATS), JSON log lines (SQ_LOG_FORMAT=json) and `ops/squall status` (every
// instance seen on the bus).
//
// - /metrics parses with a strict Prometheus text parser (below), every service is in it,
//   and after known invokes the counters moved by exactly what was done (invoker: by status;
//   scheduler: admitted, latency histogram; activations: stored).
// - A second gateway started here with SQ_METRICS_TOKEN and SQ_LOG_FORMAT=json: /metrics
//   without the token, with a wrong one or with a tenant's API key is 401; with the token it
//   is the page (both gateways in it); every line it logged is one JSON object carrying its
//   instance id, and the token is in none.
// - squall-status lists every service's instances from the bus (the second gateway too,
//   which has no pid file) and ops/squall status prints that table.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('../harness/squall.js');

after(() => h.closeNats());

const SERVICES = ['gateway', 'auth', 'registry', 'scheduler', 'invoker', 'activations', 'triggers'];

// ---------------------------------------------------------------- a strict parser
// The text exposition format 0.0.4: `# HELP name text`, `# TYPE name type` (once per family,
// before its samples), then samples `name{l="v",...} value` whose name is the family's (a
// histogram's: _bucket with le, _sum, _count); a family's lines are contiguous, no series
// twice, no other line (no blank line, no other comment), a final newline. Histograms: the
// buckets of a series are cumulative, end at le="+Inf", and +Inf equals _count. Returns
// {families: {name: {type, help, samples: [{name, labels, value}]}}} or throws.
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LNAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/.test(s)) throw new Error(`${where}: bad value '${s}'`);
  return Number(s);
}

function parseLabels(s, where) {
  // s: the text between { and }, e.g. a="x",b="y\"z"
  const labels = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = s.slice(i, eq);
    if (!LNAME.test(name)) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (s[eq + 1] !== '"') throw new Error(`${where}: label ${name} value not quoted`);
    let j = eq + 2, v = '';
    for (;; j++) {
      if (j >= s.length) throw new Error(`${where}: unterminated label value`);
      const c = s[j];
      if (c === '"') break;
      if (c === '\\') {
        const n = s[++j];
        if (n === 'n') v += '\n'; else if (n === '\\' || n === '"') v += n;
        else throw new Error(`${where}: bad escape \\${n}`);
      } else v += c;
    }
    labels[name] = v;
    i = j + 1;
    if (i < s.length) {
      if (s[i] !== ',') throw new Error(`${where}: expected ',' after label ${name}`);
      i++;
    }
  }
  return labels;
}

function parseProm(text) {
  assert.ok(text.length > 0 && text.endsWith('\n'), 'the page ends with a newline');
  const families = {};
  const closed = new Set();
  const seen = new Set();
  let cur = null;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, k) => {
    const where = `line ${k + 1} '${line.slice(0, 120)}'`;
    let m;
    if (line === '') throw new Error(`${where}: blank line`);
    if (line.startsWith('#')) {
      if ((m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)) === null) throw new Error(`${where}: a comment that is neither HELP nor TYPE`);
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad name`);
      if (closed.has(name)) throw new Error(`${where}: family ${name} again after another`);
      if (cur && cur !== name) closed.add(cur);
      cur = name;
      const f = families[name] || (families[name] = { samples: [] });
      if (f.samples.length) throw new Error(`${where}: ${kind} after samples`);
      if (kind === 'HELP') {
        if ('help' in f) throw new Error(`${where}: second HELP`);
        if (/\\[^n\\]/.test(rest)) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest;
      } else {
        if ('type' in f) throw new Error(`${where}: second TYPE`);
        if (!TYPES.has(rest)) throw new Error(`${where}: bad type '${rest}'`);
        f.type = rest;
      }
      return;
    }
    if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line)) === null) throw new Error(`${where}: not a sample`);
    const [, name, lab, val] = m;
    const labels = lab === undefined ? {} : parseLabels(lab, where);
    const value = parseValue(val, where);
    let fam = name;
    if (!(cur && families[cur] && (name === cur || (families[cur].type === 'histogram' &&
      ['_bucket', '_sum', '_count'].some((s) => name === cur + s))))) {
      throw new Error(`${where}: sample of no open family (current: ${cur})`);
    }
    fam = cur;
    if (name.endsWith('_bucket') && families[fam].type === 'histogram' && !('le' in labels)) throw new Error(`${where}: bucket without le`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`${where}: series twice`);
    seen.add(key);
    families[fam].samples.push({ name, labels, value });
  });
  for (const [name, f] of Object.entries(families)) {
    if (!f.type) throw new Error(`family ${name} without TYPE`);
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`${name}: negative counter`);
    if (f.type !== 'histogram') continue;
    const series = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      if (!series.has(key)) series.set(key, { buckets: [], count: undefined });
      const e = series.get(key);
      if (s.name.endsWith('_bucket')) e.buckets.push([parseValue(le, name), s.value]);
      else if (s.name.endsWith('_count')) e.count = s.value;
    }
    for (const [key, e] of series) {
      e.buckets.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < e.buckets.length; i++) {
        if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${name}${key}: buckets not cumulative`);
      }
      const last = e.buckets[e.buckets.length - 1];
      if (!last || last[0] !== Infinity) throw new Error(`${name}${key}: no +Inf bucket`);
      if (last[1] !== e.count) throw new Error(`${name}${key}: +Inf ${last[1]} != _count ${e.count}`);
    }
  }
  return { families };
}

test('the strict parser refuses what Prometheus would refuse', () => {
  const good = '# HELP a_total x\n# TYPE a_total counter\na_total{service="s"} 1\n';
  parseProm(good);
  const bad = [
    ['no final newline', good.slice(0, -1)],
    ['a second TYPE', good + '# TYPE a_total counter\n'],
    ['a family split', good + '# TYPE b gauge\nb 1\na_total{service="t"} 2\n'],
    ['a series twice', good + 'a_total{service="s"} 2\n'],
    ['an unquoted label', '# TYPE a gauge\na{x=1} 1\n'],
    ['a bad value', '# TYPE a gauge\na 1x\n'],
    ['a blank line', '# TYPE a gauge\n\na 1\n'],
    ['a sample without TYPE', 'a 1\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n'],
    ['a histogram whose +Inf is not its count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\nh_sum 1\n'],
    ['buckets going down', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1\n'],
  ];
  for (const [why, text] of bad) assert.throws(() => parseProm(text), undefined, `accepted ${why}`);
});

// ---------------------------------------------------------------- helpers

async function getMetrics(base, headers = {}) {
  const r = await fetch(`${base}/metrics`, { headers });
  return { status: r.status, ctype: r.headers.get('content-type'), text: await r.text() };
}

// One sample's value (0 when absent): family name, sample name, labels to match.
function val(page, family, sample, want = {}) {
  const f = page.families[family];
  if (!f) return 0;
  let sum = 0;
  for (const s of f.samples) {
    if (s.name !== sample) continue;
    if (Object.entries(want).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

function snapshot(page) {
  return {
    success: val(page, 'sq_invoker_activations_total', 'sq_invoker_activations_total', { status: 'success' }),
    appError: val(page, 'sq_invoker_activations_total', 'sq_invoker_activations_total', { status: 'application_error' }),
    runCount: val(page, 'sq_invoker_run_seconds', 'sq_invoker_run_seconds_count'),
    cold: val(page, 'sq_invoker_cold_starts_total', 'sq_invoker_cold_starts_total'),
    admitted: val(page, 'sq_scheduler_invocations_total', 'sq_scheduler_invocations_total', { result: 'admitted' }),
    latencyCount: val(page, 'sq_scheduler_invoke_seconds', 'sq_scheduler_invoke_seconds_count'),
    stored: val(page, 'sq_activations_stored_total', 'sq_activations_stored_total'),
    gathered: val(page, 'sq_metrics_gathered_timestamp_seconds', 'sq_metrics_gathered_timestamp_seconds'),
  };
}

// The next page gathered after `after` (seconds), parsed.
async function freshPage(base, after, headers = {}, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await getMetrics(base, headers);
    if (last.status === 200) {
      const page = parseProm(last.text);
      if (snapshot(page).gathered > after) return page;
    }
    await h.sleep(250);
  }
  assert.fail(`no page gathered after ${after} within ${timeoutMs} ms: ${last && last.status} ${last && last.text.slice(0, 300)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

function run(file, args, env) {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

// ---------------------------------------------------------------- the tests

test('GET /metrics: every service, strict Prometheus text, counters move by what was done', async () => {
  const env = h.stackEnv();
  const base = env.apiHost;
  // a page gathered after this test began (the gateway gathers while /metrics is read)
  const page0 = await freshPage(base, Date.now() / 1000);
  const first = await getMetrics(base);
  assert.equal(first.status, 200, first.text.slice(0, 300));
  assert.match(first.ctype, /^text\/plain; version=0\.0\.4/);
  for (const svc of SERVICES) {
    assert.ok(val(page0, 'sq_process_start_time_seconds', 'sq_process_start_time_seconds', { service: svc }) > 0,
      `${svc} is not in /metrics`);
    assert.ok(val(page0, 'sq_metrics_instances', 'sq_metrics_instances', { service: svc }) >= 1, `${svc}: no instance`);
    assert.ok(page0.families.sq_nats_reconnects_total.samples.some((s) => s.labels.service === svc), `${svc}: no NATS reconnects`);
  }
  for (const fam of ['sq_invoker_containers', 'sq_invoker_queue_depth', 'sq_jetstream_consumer_pending',
    'sq_postgresql_errors_total', 'sq_scheduler_in_flight', 'sq_invoker_run_seconds', 'sq_scheduler_invoke_seconds']) {
    assert.ok(page0.families[fam], `no family ${fam}`);
  }
  for (const stream of ['SQ_WORK', 'SQ_ACTIVATIONS']) {
    assert.ok(page0.families.sq_jetstream_consumer_pending.samples.some((s) => s.labels.stream === stream),
      `no JetStream pending of ${stream}`);
  }
  // never a tenant's namespace or an action's name in a label
  const ns = (await h.api('GET', '/namespaces')).json[0];
  assert.ok(!first.text.includes(`"${ns}"`), `the namespace ${ns} is a label value`);

  const ok = h.uniqueName('metrics_ok');
  const bad = h.uniqueName('metrics_err');
  await h.putAction(ok, h.nodeAction('function main(a){return {n: a.n}}'));
  await h.putAction(bad, h.nodeAction('function main(a){return {error: "no"}}'));
  try {
    const before = snapshot(page0);
    for (let i = 0; i < 3; i++) h.expectStatus(await h.invoke(ok, { n: i }), 200);
    const e = await h.invoke(bad, {});
    assert.equal(e.status, 502);
    const nb = await h.invoke(ok, { n: 9 }, '');
    h.expectStatus(nb, 202);
    await h.pollActivation(nb.json.activationId);
    const want = { success: 4, appError: 1, runCount: 5, admitted: 5, latencyCount: 5, stored: 5 };
    let now, page;
    const deadline = Date.now() + 30000;
    let at = before.gathered;
    do {
      page = await freshPage(base, at);
      now = snapshot(page);
      at = now.gathered;
    } while (Date.now() < deadline && Object.keys(want).some((k) => now[k] - before[k] < want[k]));
    // and one more page: nothing more than what was done comes in late
    page = await freshPage(base, at);
    now = snapshot(page);
    for (const [k, n] of Object.entries(want)) {
      assert.equal(now[k] - before[k], n, `${k} moved by ${now[k] - before[k]}, want ${n} ` +
        `(before ${JSON.stringify(before)}, now ${JSON.stringify(now)})`);
    }
    assert.ok(now.cold - before.cold >= 2 && now.cold - before.cold <= 5,
      `cold starts moved by ${now.cold - before.cold}: two new actions start cold at least once`);
  } finally {
    await h.deleteAction(ok);
    await h.deleteAction(bad);
  }
});

test('a gateway with SQ_METRICS_TOKEN and SQ_LOG_FORMAT=json; squall-status and ops/squall status see it', async () => {
  const env = h.stackEnv();
  const port = await freePort();
  const token = crypto.randomBytes(24).toString('hex');
  const instance = `metrics-gw-${crypto.randomBytes(3).toString('hex')}`;
  const bin = path.join(env.vars.SQ_BUILD_DIR, 'services', 'gateway', 'squall-gateway');
  const url = `nats://gateway:${h.natsPassword('gateway')}@127.0.0.1:${env.vars.SQ_NATS_PORT}`;
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH, SQ_NATS_URL: url, SQ_GATEWAY_PORT: String(port), SQ_GATEWAY_HOST: '127.0.0.1',
      SQ_METRICS_TOKEN: token, SQ_GATEWAY_METRICS_MS: '500', SQ_LOG_FORMAT: 'json', SQ_INSTANCE_ID: instance,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (c, sig) => resolve(c === null ? sig : c)));
  const base = `http://127.0.0.1:${port}`;
  try {
    let r;
    for (let i = 0; i < 100; i++) {
      r = await fetch(`${base}/healthz`).catch(() => null);
      if (r && r.status === 200) break;
      await h.sleep(100);
    }
    assert.ok(r && r.status === 200, `the second gateway did not come up; its log:\n${out}`);
    // who may read
    for (const [why, headers] of [['no token', {}], ['a wrong token', { authorization: `Bearer ${token.slice(1)}x` }],
      ['the token as basic auth', { authorization: `Basic ${Buffer.from(token).toString('base64')}` }],
      ['a tenant\'s API key', { authorization: h.basic(env.key) }],
      ['a longer token', { authorization: `Bearer ${token}0` }]]) {
      const m = await getMetrics(base, headers);
      assert.equal(m.status, 401, `${why}: ${m.status} ${m.text.slice(0, 200)}`);
      assert.ok(!m.text.includes('sq_'), `${why}: series in the refusal`);
    }
    const auth = { authorization: `Bearer ${token}` };
    const page = await freshPage(base, Date.now() / 1000, auth);
    assert.ok(val(page, 'sq_metrics_instances', 'sq_metrics_instances', { service: 'gateway' }) >= 2,
      'both gateways answer sq.gateway.metrics');
    assert.ok(val(page, 'sq_process_start_time_seconds', 'sq_process_start_time_seconds', { service: 'gateway', instance }) > 0,
      `the second gateway's own series (instance ${instance})`);

    // every instance on the bus, the second gateway (no pid file) included
    const opsEnv = { PATH: process.env.PATH, SQ_NATS_URL: env.natsUrl };
    const st = await run(path.join(env.vars.SQ_BUILD_DIR, 'ops', 'squall-status'), ['--timeout-ms', '1500'], opsEnv);
    assert.equal(st.code, 0, `squall-status: ${st.stdout}\n${st.stderr}`);
    const rows = st.stdout.trim().split('\n');
    assert.match(rows[0], /^SERVICE\s+INSTANCE\s+HOST\s+PID\s+UPTIME\s+HEALTH$/);
    const table = rows.slice(1).map((l) => l.split(/\s+/));
    for (const svc of SERVICES) {
      assert.ok(table.some((c) => c[0] === svc && c[5] === 'ok'), `${svc} not ok in\n${st.stdout}`);
    }
    const mine = table.find((c) => c[0] === 'gateway' && c[1] === instance);
    assert.ok(mine, `the second gateway is not listed:\n${st.stdout}`);
    assert.equal(Number(mine[3]), child.pid);
    assert.match(mine[4], /^\d+[smhd]/);
    assert.ok(table.filter((c) => c[0] === 'gateway').length >= 2);
    const bad = await run(path.join(env.vars.SQ_BUILD_DIR, 'ops', 'squall-status'), ['--timeout-ms', '300', 'nosuchsvc'], opsEnv);
    assert.equal(bad.code, 1, 'a service nobody answers for: exit 1');
    assert.match(bad.stdout, /nosuchsvc\s+-\s+-\s+-\s+-\s+no answer/);
    const launcher = await run(path.join(h.ROOT, 'ops', 'squall'), ['status'], {
      PATH: process.env.PATH, SQ_STATE_DIR: env.stateDir, SQ_BUILD_DIR: env.vars.SQ_BUILD_DIR,
      SQ_NO_INSTALL: '1', SQ_NO_BUILD: '1' });
    assert.ok(launcher.stdout.includes(instance), `ops/squall status does not list ${instance}:\n${launcher.stdout}\n${launcher.stderr}`);
  } finally {
    child.kill('SIGTERM');
    const how = await Promise.race([exited, h.sleep(15000).then(() => 'timeout')]);
    if (how === 'timeout') child.kill('SIGKILL');
  }
  // its log: one JSON object per line, each with its instance; no token anywhere
  const lines = out.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 5, `too few log lines:\n${out}`);
  for (const l of lines) {
    let j;
    assert.doesNotThrow(() => { j = JSON.parse(l); }, `not JSON: ${l}`);
    assert.equal(typeof j.ts, 'string');
    assert.match(j.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warning', 'error'].includes(j.level), l);
    assert.equal(j.service, 'gateway', l);
    assert.equal(j.instance, instance, l);
    assert.equal(typeof j.msg, 'string');
  }
  assert.ok(!out.includes(token), 'the metrics token is in the log');
  assert.ok(!out.includes(h.natsPassword('gateway')), 'the NATS password is in the log');
  assert.ok(lines.some((l) => JSON.parse(l).msg === 'ready'), 'no "ready" line');
});
