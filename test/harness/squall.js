// Shared helpers of the JS integration and e2e tests: where the stack is (the env file that
// `ops/squall up` writes, named by SQ_TEST_ENV; stack.sh points it at the test stack), a
// small REST client over global fetch, a NATS client with msgpack, and polling helpers.
// Every helper fails with a message that says what was asked and what came back.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const E2E_MODULES = path.join(ROOT, 'test', 'e2e', 'node_modules');

// require() of an npm dependency of the tests: from NODE_PATH, or from test/e2e/node_modules.
function dep(name) {
  try {
    return require(name);
  } catch (e) {
    try {
      return require(path.join(E2E_MODULES, name));
    } catch (e2) {
      throw new Error(`cannot load the npm package '${name}': run 'npm install' in test/e2e ` +
        `(ops/squall test does it) [${e2.message}]`);
    }
  }
}

// ---------------------------------------------------------------- the stack's environment

let cachedEnv = null;

// The SQ_* variables of an env file (sourced by bash, as the services see it).
function readEnvFile(file) {
  const out = execFileSync('bash', ['-c', 'set -a; . "$0" >/dev/null; env -0', file], {
    env: { PATH: process.env.PATH || '/usr/bin:/bin' },
  }).toString();
  const vars = {};
  for (const kv of out.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0 && kv.startsWith('SQ_')) vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return vars;
}

// The SQ_* variables of the stack's env file (a sourceable shell file).
function stackEnv() {
  if (cachedEnv) return cachedEnv;
  const file = process.env.SQ_TEST_ENV || path.join(ROOT, '.squall', 'env');
  if (!fs.existsSync(file)) {
    throw new Error(`no stack environment file ${file}: run the tests through ctest (the stack_up ` +
      `fixture writes it) or point SQ_TEST_ENV at the env file of a running 'ops/squall up'`);
  }
  const vars = readEnvFile(file);
  for (const k of ['SQ_NATS_URL', 'SQ_GUEST_KEY', 'SQ_GATEWAY_PORT']) {
    if (!vars[k]) throw new Error(`${file} does not set ${k}`);
  }
  cachedEnv = {
    file,
    vars,
    natsUrl: vars.SQ_NATS_URL,
    key: vars.SQ_GUEST_KEY,
    apiHost: vars.SQ_API_HOST || `http://127.0.0.1:${vars.SQ_GATEWAY_PORT}`,
    gatewayPort: Number(vars.SQ_GATEWAY_PORT),
    stateDir: vars.SQ_STATE_DIR,
  };
  return cachedEnv;
}

// A name unique to this test run (entity names in the shared guest namespace).
const RUN = crypto.randomBytes(3).toString('hex');
function uniqueName(base) {
  return `${base}_${RUN}`;
}

// uniqueName() of each base, in order: const [a, b] = uniqueNames('x_a', 'x_b').
function uniqueNames(...bases) {
  return bases.map(uniqueName);
}

// ---------------------------------------------------------------- REST

function basic(key) {
  return 'Basic ' + Buffer.from(key).toString('base64');
}

// api(method, path, opts): path below /api/v1 (e.g. '/namespaces/_/actions/x?blocking=true').
// opts: body (JSON-encoded), raw (a string or Buffer sent as is), key (null: no
// Authorization header; default the guest key), headers, timeoutMs (default 30 s).
// Returns {status, headers, text, json} where json is the parsed body or undefined.
async function api(method, p, opts = {}) {
  const env = stackEnv();
  const url = env.apiHost + '/api/v1' + p;
  const headers = Object.assign({}, opts.headers || {});
  const key = opts.key === undefined ? env.key : opts.key;
  if (key !== null) headers.authorization = basic(key);
  let body;
  if (opts.raw !== undefined) {
    body = opts.raw;
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const timeoutMs = opts.timeoutMs || 30000;
  const started = Date.now();
  let res;
  try {
    res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = e.cause ? ` (${e.cause.code || e.cause.message})` : '';
    throw new Error(`${method} ${p}: no HTTP answer after ${Date.now() - started} ms: ${e.name}: ${e.message}${cause}`);
  }
  const text = await res.text();
  let json;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started, method, path: p };
}

// A short description of a response for assertion messages.
function show(res) {
  const t = res.text.length > 600 ? res.text.slice(0, 600) + '...' : res.text;
  return `${res.method} ${res.path} -> ${res.status} ${t}`;
}

// The status, and a JSON content type on a JSON body (clients such as the openwhisk npm
// package decide by the header whether to parse).
function expectStatus(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}: ${show(res)}`);
  if (res.text.length > 0 && res.json !== undefined) {
    assert.match(String(res.headers.get('content-type')), /^application\/json\b/,
      `JSON body without Content-Type application/json (got ${res.headers.get('content-type')}): ${show(res)}`);
  }
  return res;
}

// An OpenWhisk error body: {"error": "message", "code": ...} with a non-empty message.
function expectError(res, status) {
  expectStatus(res, status);
  assert.ok(res.json && typeof res.json === 'object', `error body is not a JSON object: ${show(res)}`);
  assert.equal(typeof res.json.error, 'string', `error body has no string "error": ${show(res)}`);
  assert.ok(res.json.error.length > 0, `error body has an empty "error": ${show(res)}`);
  return res;
}

// PUT an action; fails the test unless the answer is 200.
async function putAction(name, exec, extra = {}, query = '') {
  const res = await api('PUT', `/namespaces/_/actions/${encodeURIComponent(name)}${query}`, {
    body: Object.assign({ exec }, extra),
  });
  expectStatus(res, 200);
  return res.json;
}

async function deleteAction(name) {
  return api('DELETE', `/namespaces/_/actions/${encodeURIComponent(name)}`);
}

function nodeAction(code) {
  return { kind: 'nodejs:20', code };
}

// fn(name) with a nodejs:20 action of code under uniqueName(base) (extra: as putAction's),
// deleted afterwards whatever happens; fn's value.
async function withAction(base, code, extra, fn) {
  const name = uniqueName(base);
  try {
    await putAction(name, nodeAction(code), extra);
    return await fn(name);
  } finally {
    await deleteAction(name);
  }
}

// Blocking invoke; returns the response (any status).
// query '' invokes without blocking.
async function invoke(name, params = {}, query = 'blocking=true', opts = {}) {
  const q = query ? `?${query}` : '';
  return api('POST', `/namespaces/_/actions/${encodeURIComponent(name)}${q}`, Object.assign({ body: params }, opts));
}

// Checks an activation record against what the test expects. want: {name, version,
// result, status ('success'), statusCode (0), t0, t1 (wall clock around the invoke),
// cold (true: initTime required; false: initTime absent; undefined: either), limits
// ({timeout, memory, logs}; default the defaults), kind ('nodejs:20')}.
const STATUS_CODE = { success: 0, 'application error': 1, 'action developer error': 2, 'whisk internal error': 3 };
function checkRecord(rec, want, ctx = '') {
  const where = `${ctx} record ${JSON.stringify(rec).slice(0, 1500)}`;
  const status = want.status || 'success';
  assert.ok(rec && typeof rec === 'object', `no record: ${where}`);
  assert.match(String(rec.activationId), /^[0-9a-f]{32}$/, `activationId: ${where}`);
  assert.equal(rec.namespace, 'guest', `namespace: ${where}`);
  assert.equal(rec.name, want.name, `name: ${where}`);
  if (want.version) assert.equal(rec.version, want.version, `version: ${where}`);
  assert.equal(typeof rec.subject, 'string', `subject: ${where}`);
  assert.ok(rec.subject.length > 0, `empty subject: ${where}`);
  assert.ok(Number.isInteger(rec.start) && Number.isInteger(rec.end), `start/end not integers: ${where}`);
  assert.ok(rec.end >= rec.start, `end before start: ${where}`);
  if (want.t0) {
    assert.ok(rec.start >= want.t0 - 2000 && rec.end <= want.t1 + 2000,
      `start/end (${rec.start}..${rec.end}) not within the invoke (${want.t0}..${want.t1}) in ms since the epoch: ${where}`);
  }
  assert.equal(rec.duration, rec.end - rec.start, `duration is not end - start: ${where}`);
  assert.ok(Array.isArray(rec.logs), `logs is not an array: ${where}`);
  for (const l of rec.logs) assert.equal(typeof l, 'string', `a log line is not a string: ${where}`);
  assert.equal(rec.publish, false, `publish: ${where}`);
  const r = rec.response;
  assert.ok(r && typeof r === 'object', `no response: ${where}`);
  assert.equal(r.status, status, `response.status: ${where}`);
  assert.equal(r.statusCode, STATUS_CODE[status], `response.statusCode: ${where}`);
  assert.equal(r.success, status === 'success', `response.success: ${where}`);
  if ('result' in want) assert.deepEqual(r.result, want.result, `response.result: ${where}`);
  assert.ok(Array.isArray(rec.annotations), `annotations is not an array: ${where}`);
  assert.equal(annotation(rec, 'path'), `guest/${want.name}`, `annotation path: ${where}`);
  assert.equal(annotation(rec, 'kind'), want.kind || 'nodejs:20', `annotation kind: ${where}`);
  const lim = annotation(rec, 'limits');
  const wl = want.limits || { timeout: 60000, memory: 256, logs: 10 };
  assert.ok(lim && typeof lim === 'object', `annotation limits: ${where}`);
  assert.equal(lim.timeout, wl.timeout, `annotation limits.timeout: ${where}`);
  assert.equal(lim.memory, wl.memory, `annotation limits.memory: ${where}`);
  assert.equal(lim.logs, wl.logs, `annotation limits.logs: ${where}`);
  const wt = annotation(rec, 'waitTime');
  assert.ok(Number.isInteger(wt) && wt >= 0, `annotation waitTime: ${where}`);
  const it = annotation(rec, 'initTime');
  if (want.cold === true) assert.ok(Number.isInteger(it) && it >= 0, `cold start without an initTime annotation: ${where}`);
  if (want.cold === false) assert.equal(it, undefined, `warm invoke with an initTime annotation: ${where}`);
}

// GET /activations/{id} until it answers 200 (records are written asynchronously), at most
// timeoutMs. Returns the record; fails with the last answer otherwise.
async function pollActivation(id, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await api('GET', `/namespaces/_/activations/${id}`);
    if (last.status === 200) return last.json;
    if (last.status !== 404) break;
    await sleep(100);
  }
  assert.fail(`activation ${id} not readable within ${timeoutMs} ms: ${show(last)}`);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// The first answer of call() that is 200, asked at most tries times 100 ms apart; fails with
// the last answer otherwise.
async function until200(tries, call) {
  let res;
  for (let i = 0; i < tries; i++) {
    res = await call();
    if (res.status === 200) break;
    await sleep(100);
  }
  return expectStatus(res, 200);
}

// The value of annotation key in an activation or entity, or undefined.
function annotation(entity, key) {
  const a = (entity.annotations || []).find((x) => x && x.key === key);
  return a ? a.value : undefined;
}

// ---------------------------------------------------------------- NATS + msgpack

let natsConn = null;
const natsConns = new Map(); // user -> connection of natsAs()

// The password of a NATS user of the stack (the launcher keeps them in STATE/nats/users).
function natsPassword(user) {
  const env = stackEnv();
  const file = path.join(env.stateDir, 'nats', 'users');
  const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.split(' ')[0] === user);
  if (!line) throw new Error(`no NATS user ${user} in ${file}`);
  return line.split(' ')[1];
}

// Connection options for user (default: ops, the operator's user the tests use). Each user
// listens on its own inbox prefix, _INBOX_<user> (its permissions allow no other).
function natsOptions(user, extra = {}) {
  const env = stackEnv();
  // nats.js does not read credentials from the URL (and would take digits of a password
  // for the port): strip them and pass them apart
  const opts = { servers: env.natsUrl.replace(/\/\/[^@/]*@/, '//'), name: 'squall-tests', timeout: 5000 };
  if (user !== 'ops' || env.vars.SQ_NATS_USER) {
    opts.user = user;
    opts.pass = user === 'ops' && env.vars.SQ_NATS_PASS ? env.vars.SQ_NATS_PASS : natsPassword(user);
    opts.inboxPrefix = `_INBOX_${user}`;
  }
  return Object.assign(opts, extra);
}

async function nats() {
  if (natsConn) return natsConn;
  const { connect } = dep('nats');
  natsConn = await connect(natsOptions('ops'));
  return natsConn;
}

// A connection as NATS user `user` (a service's), for tests that need that service's rights
// (publish activation records, heartbeats...); closed by closeNats().
async function natsAs(user) {
  if (natsConns.has(user)) return natsConns.get(user);
  const { connect } = dep('nats');
  const nc = await connect(natsOptions(user, { name: `squall-tests-${user}` }));
  natsConns.set(user, nc);
  return nc;
}

async function closeNats() {
  if (natsConn) {
    const nc = natsConn;
    natsConn = null;
    await nc.drain();
  }
  for (const [user, nc] of natsConns) {
    natsConns.delete(user);
    await nc.drain().catch(() => {});
  }
}

let packr = null;
function msgpack() {
  if (!packr) {
    const { Packr } = dep('msgpackr');
    packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });
  }
  return packr;
}

const pack = (v) => msgpack().pack(v);
const unpack = (b) => msgpack().unpack(b);

// Sends data (Buffer/Uint8Array as is, anything else msgpack-packed) to subject and returns
// {raw, value} of the reply; fails when nobody answers within timeoutMs.
// hdrs: optional NATS headers, e.g. { 'Sq-Batch': '1' }
async function natsRequest(subject, data, timeoutMs = 5000, hdrs = null) {
  const nc = await nats();
  const payload = data instanceof Uint8Array ? data : pack(data);
  const opts = { timeout: timeoutMs };
  if (hdrs) {
    opts.headers = dep('nats').headers();
    for (const [k, v] of Object.entries(hdrs)) opts.headers.set(k, v);
  }
  let msg;
  try {
    msg = await nc.request(subject, payload, opts);
  } catch (e) {
    throw new Error(`NATS request to ${subject} (${payload.length} bytes) got no answer: ${e.code || ''} ${e.message}`);
  }
  let value;
  try {
    value = unpack(msg.data);
  } catch (e) {
    throw new Error(`NATS reply from ${subject} is not msgpack (${msg.data.length} bytes): ${e.message}`);
  }
  return { raw: msg.data, value };
}

// squall-admin against the test stack with args (its token, its NATS URL); the JSON it
// printed. Throws with squall-admin's stderr when it fails.
function admin(...args) {
  const env = stackEnv();
  const bin = path.join(env.vars.SQ_BUILD_DIR, 'ops', 'squall-admin');
  const out = execFileSync(bin, ['--url', env.natsUrl, '--token', env.vars.SQ_ADMIN_TOKEN, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.toString());
}

// A base64 zip of {name: content} (deflated); names starting with '*' are made executable.
function zip(files) {
  const py = `
import io, json, sys, zipfile, base64
files = json.load(sys.stdin)
b = io.BytesIO()
z = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)
for name, content in files.items():
    x = name.startswith('*')
    i = zipfile.ZipInfo(name[1:] if x else name)
    i.external_attr = (0o755 if x else 0o644) << 16
    i.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(i, content)
z.close()
sys.stdout.write(base64.b64encode(b.getvalue()).decode())
`;
  return execFileSync('/usr/bin/python3', ['-c', py], { input: JSON.stringify(files) }).toString();
}

module.exports = {
  ROOT, dep, stackEnv, uniqueName, uniqueNames, api, show, expectStatus, expectError, putAction, deleteAction,
  nodeAction, withAction, until200, invoke, checkRecord, pollActivation, sleep, annotation, nats, closeNats, natsRequest, pack, unpack,
  basic, natsAs, natsOptions, natsPassword, admin, zip, readEnvFile,
};
