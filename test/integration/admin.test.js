// Users, keys and limits through the operator's tool squall-admin (sq.auth.admin): a new
// subject's key works at once and only on its own namespaces; block, unblock, key rotation
// and delete take effect on the REST API (the gateway drops its cached keys on sq.evt.auth;
// the waits below are bounded by its cache TTL in case an event is missed); namespace
// limits are validated, stored and read back (squall-admin, sq.auth.limits, and the REST
// route when the gateway has it); the tool's exit codes (0, 1 wire error, 2 usage); and
// hostile NATS messages to sq.auth.limits and sq.auth.admin get 400 wire errors while auth
// stays healthy.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness/squall.js');

const SUBJ = h.uniqueName('adm');          // the subject this file creates and deletes
const NS2 = h.uniqueName('adm_team');      // its second namespace
const CACHE_WAIT_MS = 8000;                // gateway auth cache TTL (5 s) plus slack
const LIMIT_NAMES = ['concurrentInvocations', 'invocationsPerMinute', 'firesPerMinute', 'actionTimeoutMax', 'actionMemoryMax'];
const DEFAULTS = { concurrentInvocations: 100, invocationsPerMinute: 120, firesPerMinute: 60, actionTimeoutMax: 300000, actionMemoryMax: 512 };

function adminBin() {
  const env = h.stackEnv();
  const build = env.vars.SQ_BUILD_DIR || process.env.SQ_BUILD_DIR;
  assert.ok(build, `${env.file} sets no SQ_BUILD_DIR`);
  const bin = path.join(build, 'ops', 'squall-admin');
  assert.ok(fs.existsSync(bin), `no ${bin}: not built`);
  return bin;
}

// Runs squall-admin with args; opts.token overrides the stack's token (null: none).
// Returns {code, stdout, stderr, json}.
function admin(args, opts = {}) {
  const env = h.stackEnv();
  const token = opts.token === undefined ? env.vars.SQ_ADMIN_TOKEN : opts.token;
  const childEnv = { PATH: process.env.PATH || '/usr/bin:/bin', SQ_NATS_URL: env.natsUrl };
  if (token !== null) childEnv.SQ_ADMIN_TOKEN = token;
  // sanitizer builds: fail loudly rather than print and exit 0
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) childEnv[k] = process.env[k];
  return new Promise((resolve) => {
    execFile(adminBin(), args, { env: childEnv, timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      let json;
      try {
        json = stdout.length ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, args });
    });
  });
}

function showRun(r) {
  return `squall-admin ${r.args.join(' ')} -> exit ${r.code}, stdout ${r.stdout.slice(0, 500)} stderr ${r.stderr.slice(0, 500)}`;
}

async function adminOk(args) {
  const r = await admin(args);
  assert.equal(r.code, 0, showRun(r));
  assert.ok(r.json && typeof r.json === 'object', `no JSON on stdout: ${showRun(r)}`);
  return r.json;
}

// A wire error: exit 1, the HTTP-like code and a message on stderr, nothing on stdout.
async function adminFails(args, code, re) {
  const r = await admin(args);
  assert.equal(r.code, 1, `want exit 1: ${showRun(r)}`);
  assert.match(r.stderr, new RegExp(`error ${code}: `), `want error ${code}: ${showRun(r)}`);
  if (re) assert.match(r.stderr, re, showRun(r));
  assert.equal(r.stdout, '', `stdout on an error: ${showRun(r)}`);
  return r;
}

async function adminUsage(args, opts) {
  const r = await admin(args, opts);
  assert.equal(r.code, 2, `want exit 2 (usage): ${showRun(r)}`);
  assert.ok(r.stderr.length > 0, `usage error without a message: ${showRun(r)}`);
  return r;
}

// Polls GET /namespaces with key until it answers status (the gateway may hold the key in
// its cache for up to its TTL); returns the last response.
async function untilStatus(key, status, what) {
  const deadline = Date.now() + CACHE_WAIT_MS;
  let res;
  for (;;) {
    res = await h.api('GET', '/namespaces', { key });
    if (res.status === status || Date.now() > deadline) break;
    await h.sleep(100);
  }
  assert.equal(res.status, status, `${what}: want ${status} within ${CACHE_WAIT_MS} ms: ${h.show(res)}`);
  return res;
}

const isWireError = (v, code) => v && typeof v === 'object' && v.error && typeof v.error === 'object' &&
  v.error.code === code && typeof v.error.message === 'string' && v.error.message.length > 0;

async function authHealthy() {
  const r = await h.natsRequest('sq.auth.health', h.pack({}), 3000);
  assert.ok(r.value && r.value.ok === true && r.value.service === 'auth', `sq.auth.health answered ${JSON.stringify(r.value)}`);
}

after(async () => {
  await admin(['user', 'delete', SUBJ]).catch(() => {});
  await h.closeNats();
});

// ---------------------------------------------------------------- the tool itself

test('squall-admin --help lists every command and exits 0', async () => {
  const r = await admin(['--help'], { token: null });
  assert.equal(r.code, 0, showRun(r));
  for (const c of ['user create', 'user delete', 'user get', 'user list', 'user block', 'user unblock',
    'key rotate', 'namespace limits get', 'namespace limits set', '--url', '--token']) {
    assert.ok(r.stdout.includes(c), `--help does not mention "${c}": ${r.stdout}`);
  }
});

test('usage errors exit 2', async () => {
  await adminUsage([]);
  await adminUsage(['user']);
  await adminUsage(['user', 'frobnicate', 'x']);
  await adminUsage(['user', 'create']);
  await adminUsage(['user', 'get', 'a', 'b']);
  await adminUsage(['user', 'list', 'extra']);
  await adminUsage(['key', 'rotate']);
  await adminUsage(['key', 'turn', 'x']);
  await adminUsage(['namespace', 'limits', 'get']);
  await adminUsage(['namespace', 'limits', 'set', 'guest']);
  await adminUsage(['namespace', 'limits', 'set', 'guest', 'invocationsPerMinute']);
  await adminUsage(['namespace', 'limits', 'set', 'guest', 'invocationsPerMinute=many']);
  await adminUsage(['namespace', 'limits', 'set', 'guest', '=5']);
  await adminUsage(['namespace', 'quota', 'get', 'guest']);
  await adminUsage(['--bogus', 'user', 'list']);
  await adminUsage(['--timeout-ms', 'soon', 'user', 'list']);
  await adminUsage(['user', 'list'], { token: null });
});

test('a wrong admin token is refused: exit 1, error 401, nothing changed', async () => {
  const r = await admin(['user', 'create', h.uniqueName('adm_never')], { token: 'x'.repeat(64) });
  assert.equal(r.code, 1, showRun(r));
  assert.match(r.stderr, /error 401: /, showRun(r));
  const list = await adminOk(['user', 'list']);
  assert.ok(!list.subjects.includes(h.uniqueName('adm_never')), `created with a wrong token: ${JSON.stringify(list)}`);
});

// ---------------------------------------------------------------- users and keys

let key1;   // SUBJ's key in namespace SUBJ

test('user create: the new key works on GET /namespaces and only on its own namespace', async () => {
  const made = await adminOk(['user', 'create', SUBJ]);
  assert.equal(made.subject, SUBJ);
  assert.equal(made.namespace, SUBJ, 'the namespace defaults to the subject');
  assert.match(made.key, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]{64}$/, `key shape: ${made.key}`);
  key1 = made.key;

  const res = h.expectStatus(await h.api('GET', '/namespaces', { key: key1 }), 200);
  assert.ok(Array.isArray(res.json) && res.json.includes(SUBJ), `GET /namespaces with the new key: ${h.show(res)}`);
  assert.ok(!res.json.includes('guest'), `the new subject sees the guest namespace: ${h.show(res)}`);

  // not the guest's namespace
  h.expectError(await h.api('GET', '/namespaces/guest/actions', { key: key1 }), 403);
  // and the guest not the new one
  h.expectError(await h.api('GET', `/namespaces/${encodeURIComponent(SUBJ)}/actions`), 403);

  // sq.auth.verify answers the identity with every namespace of the subject
  const v = (await h.natsRequest('sq.auth.verify', { key: key1 })).value;
  assert.equal(v.subject, SUBJ, JSON.stringify(v));
  assert.equal(v.namespace, SUBJ, JSON.stringify(v));
  assert.equal(v.uuid, key1.split(':')[0], JSON.stringify(v));
  assert.deepEqual(v.namespaces, [SUBJ], JSON.stringify(v));
});

test('user create of an existing subject or namespace is 409; reserved and invalid names are 400', async () => {
  await adminFails(['user', 'create', SUBJ], 409, /already exists/);
  await adminFails(['user', 'create', h.uniqueName('adm_other'), SUBJ], 409, /already exists/);
  await adminFails(['user', 'create', 'whisk.system'], 400, /reserved/);
  await adminFails(['user', 'create', h.uniqueName('adm_sys'), 'whisk.system'], 400, /reserved/);
  await adminFails(['user', 'create', 'bad/name'], 400);
  await adminFails(['user', 'create', ' lead'], 400);
  await adminFails(['user', 'delete', 'whisk.system'], 400, /reserved/);
  await adminFails(['user', 'block', 'whisk.system'], 400, /reserved/);
  const list = await adminOk(['user', 'list']);
  assert.ok(!list.subjects.includes(h.uniqueName('adm_other')) && !list.subjects.includes(h.uniqueName('adm_sys')),
    `a refused create left a subject: ${JSON.stringify(list)}`);
});

test('a second namespace for the subject: its own key; verify lists both namespaces', async () => {
  const made = await adminOk(['user', 'create', SUBJ, NS2]);
  assert.equal(made.subject, SUBJ);
  assert.equal(made.namespace, NS2);
  const v1 = (await h.natsRequest('sq.auth.verify', { key: key1 })).value;
  assert.deepEqual([...v1.namespaces].sort(), [SUBJ, NS2].sort(), JSON.stringify(v1));
  assert.equal(v1.namespace, SUBJ, JSON.stringify(v1));
  const v2 = (await h.natsRequest('sq.auth.verify', { key: made.key })).value;
  assert.equal(v2.namespace, NS2, JSON.stringify(v2));
  assert.equal(v2.subject, SUBJ, JSON.stringify(v2));
  await adminFails(['user', 'create', SUBJ, NS2], 409, /already has namespace/);
});

test('user get shows the namespaces and key uuids, never a secret; user list has the subject', async () => {
  const u = await adminOk(['user', 'get', SUBJ]);
  assert.equal(u.subject, SUBJ);
  assert.equal(u.blocked, false);
  const byName = Object.fromEntries(u.namespaces.map((n) => [n.name, n.uuid]));
  assert.deepEqual(Object.keys(byName).sort(), [SUBJ, NS2].sort(), JSON.stringify(u));
  assert.equal(byName[SUBJ], key1.split(':')[0], JSON.stringify(u));
  assert.ok(!JSON.stringify(u).includes(key1.split(':')[1]), 'user get shows a secret');
  const list = await adminOk(['user', 'list']);
  assert.ok(list.subjects.includes(SUBJ) && list.subjects.includes('guest'), JSON.stringify(list));
  await adminFails(['user', 'get', h.uniqueName('adm_nobody')], 404);
  // the system namespace exists, owned by the system subject, without a key
  const sys = await adminOk(['user', 'get', 'whisk.system']);
  assert.deepEqual(sys.namespaces, [{ name: 'whisk.system', uuid: null }], JSON.stringify(sys));
});

test('block: 403 on the REST API and on verify; unblock: 200 again', async () => {
  const b = await adminOk(['user', 'block', SUBJ]);
  assert.deepEqual(b, { subject: SUBJ, blocked: true });
  const v = (await h.natsRequest('sq.auth.verify', { key: key1 })).value;
  assert.ok(isWireError(v, 403), `verify of a blocked subject's key: ${JSON.stringify(v)}`);
  const res = await untilStatus(key1, 403, 'blocked subject');
  h.expectError(res, 403);
  assert.equal((await adminOk(['user', 'get', SUBJ])).blocked, true);
  // a wrong secret of a blocked subject is still 401: blocking tells nothing to a guesser
  const wrong = key1.split(':')[0] + ':' + 'A'.repeat(64);
  h.expectError(await h.api('GET', '/namespaces', { key: wrong }), 401);

  const u = await adminOk(['user', 'unblock', SUBJ]);
  assert.deepEqual(u, { subject: SUBJ, blocked: false });
  await untilStatus(key1, 200, 'unblocked subject');
  await adminFails(['user', 'block', h.uniqueName('adm_nobody')], 404);
});

test('key rotate: the old key is refused (401), the new one works', async () => {
  const r = await adminOk(['key', 'rotate', SUBJ, SUBJ]);
  assert.equal(r.subject, SUBJ);
  assert.equal(r.namespace, SUBJ);
  assert.notEqual(r.key, key1);
  const old = key1;
  key1 = r.key;
  await untilStatus(old, 401, 'rotated-out key');
  const res = await untilStatus(key1, 200, 'new key');
  assert.ok(res.json.includes(SUBJ), h.show(res));
  // without a namespace: the one named like the subject
  const r2 = await adminOk(['key', 'rotate', SUBJ]);
  assert.equal(r2.namespace, SUBJ);
  await untilStatus(key1, 401, 'rotated-out key (second rotation)');
  key1 = r2.key;
  await untilStatus(key1, 200, 'new key (second rotation)');
  await adminFails(['key', 'rotate', SUBJ, 'guest'], 404);
  await adminFails(['key', 'rotate', h.uniqueName('adm_nobody')], 404);
});

// ---------------------------------------------------------------- limits

test('namespace limits: defaults, set, validation, reset, read back everywhere', async (t) => {
  assert.deepEqual(await adminOk(['namespace', 'limits', 'get', SUBJ]), DEFAULTS);
  assert.deepEqual(await adminOk(['namespace', 'limits', 'get', 'whisk.system']), DEFAULTS);

  const want = Object.assign({}, DEFAULTS, { invocationsPerMinute: 300, actionTimeoutMax: 1000, actionMemoryMax: 128 });
  const set = await adminOk(['namespace', 'limits', 'set', SUBJ, 'invocationsPerMinute=300', 'actionTimeoutMax=1000', 'actionMemoryMax=128']);
  assert.deepEqual(set, want);
  assert.deepEqual(await adminOk(['namespace', 'limits', 'get', SUBJ]), want);
  const viaNats = (await h.natsRequest('sq.auth.limits', { ns: SUBJ })).value;
  assert.deepEqual(viaNats, want);
  // the other namespace of the subject keeps its defaults
  assert.deepEqual((await h.natsRequest('sq.auth.limits', { ns: NS2 })).value, DEFAULTS);

  // the REST route (GET /namespaces/{ns}/limits), once the gateway serves it
  const rest = await h.api('GET', `/namespaces/${encodeURIComponent(SUBJ)}/limits`, { key: key1 });
  if (rest.status === 404) {
    t.diagnostic(`the gateway has no GET /namespaces/{ns}/limits route yet (${h.show(rest)}); ` +
      'limits checked through squall-admin and sq.auth.limits only');
  } else {
    h.expectStatus(rest, 200);
    for (const k of LIMIT_NAMES) {
      if (k in rest.json) assert.equal(rest.json[k], want[k], `${k} over REST: ${h.show(rest)}`);
    }
    assert.equal(rest.json.invocationsPerMinute, 300, h.show(rest));
    // and not for a foreign namespace
    h.expectError(await h.api('GET', `/namespaces/${encodeURIComponent(SUBJ)}/limits`), 403);
  }

  // every bad value is refused and nothing changes
  for (const [pair, re] of [
    ['actionMemoryMax=1000', /128\.\.512/], ['actionMemoryMax=64', /128\.\.512/],
    ['actionTimeoutMax=50', /100\.\.300000/], ['actionTimeoutMax=300001', /100\.\.300000/],
    ['concurrentInvocations=0', /positive/], ['firesPerMinute=-3', /positive/],
    ['invocationsPerMinute=99999999999', /positive/], ['bogusLimit=5', /unknown limit/],
  ]) {
    // with a good value beside it: a set is all or nothing
    const good = pair.startsWith('invocationsPerMinute') ? 'firesPerMinute=1' : 'invocationsPerMinute=1';
    await adminFails(['namespace', 'limits', 'set', SUBJ, good, pair], 400, re);
  }
  assert.deepEqual(await adminOk(['namespace', 'limits', 'get', SUBJ]), want, 'a refused set changed the limits');

  // back to the default
  const reset = await adminOk(['namespace', 'limits', 'set', SUBJ, 'invocationsPerMinute=default', 'actionTimeoutMax=default']);
  assert.deepEqual(reset, Object.assign({}, DEFAULTS, { actionMemoryMax: 128 }));

  await adminFails(['namespace', 'limits', 'get', h.uniqueName('adm_nons')], 404, /does not exist/);
  await adminFails(['namespace', 'limits', 'set', h.uniqueName('adm_nons'), 'firesPerMinute=5'], 404);
  const nf = (await h.natsRequest('sq.auth.limits', { ns: h.uniqueName('adm_nons') })).value;
  assert.ok(isWireError(nf, 404), `sq.auth.limits of an unknown namespace: ${JSON.stringify(nf)}`);
});

// ---------------------------------------------------------------- delete

test('user delete: namespaces and keys go with it; the key is refused (401)', async () => {
  const d = await adminOk(['user', 'delete', SUBJ]);
  assert.equal(d.subject, SUBJ);
  assert.deepEqual([...d.namespaces].sort(), [SUBJ, NS2].sort(), JSON.stringify(d));
  await untilStatus(key1, 401, 'deleted subject');
  await adminFails(['user', 'get', SUBJ], 404);
  await adminFails(['user', 'delete', SUBJ], 404);
  await adminFails(['namespace', 'limits', 'get', NS2], 404);
  // its namespace names are free again
  const again = await adminOk(['user', 'create', SUBJ]);
  await untilStatus(again.key, 200, 're-created subject');
  await adminOk(['user', 'delete', SUBJ]);
});

// ---------------------------------------------------------------- hostile NATS messages

function hostilePayloads(valid, wrong) {
  const v = Buffer.from(h.pack(valid));
  const out = [
    ['empty payload', Buffer.alloc(0)],
    ['the byte 0xc1', Buffer.from([0xc1])],
    ['map32 header claiming 2^32-1 pairs', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x6b, 0x01])],
    ['str32 header claiming 4 GB', Buffer.from([0x81, 0xa2, 0x6e, 0x73, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
    ['200 nested arrays', Buffer.concat([Buffer.alloc(200, 0x91), Buffer.from([0x01])])],
    ['40 nested maps', Buffer.concat([...Array(40)].map(() => Buffer.from([0x81, 0xa1, 0x6b])).concat([Buffer.from([0x01])]))],
    ['truncated by one byte', v.subarray(0, v.length - 1)],
    ['truncated to half', v.subarray(0, Math.floor(v.length / 2))],
    ['followed by a nil', Buffer.concat([v, Buffer.from([0xc0])])],
    ['a string instead of a map', h.pack('sq')],
    ['an array instead of a map', h.pack([valid])],
    ['nil instead of a map', h.pack(null)],
    ['an empty map', h.pack({})],
    ['a map with an int key', Buffer.from([0x81, 0x01, 0x02])],
    ['JSON text', Buffer.from(JSON.stringify(valid))],
  ];
  for (const w of wrong) out.push([`${JSON.stringify(w).replace(/"token":"[^"]*"/, '"token":"…"').slice(0, 140)}`, h.pack(w)]);
  return out;
}

async function expectAll400(subject, payloads) {
  await authHealthy();
  const failures = [];
  for (const [what, payload] of payloads) {
    let r;
    try {
      r = await h.natsRequest(subject, new Uint8Array(payload), 5000);
    } catch (e) {
      failures.push(`${what}: ${e.message}`);
      continue;
    }
    if (!isWireError(r.value, 400)) failures.push(`${what}: answered ${JSON.stringify(r.value).slice(0, 300)}, want a 400 wire error`);
  }
  await authHealthy().catch((e) => failures.push(`auth not healthy at the end: ${e.message}`));
  assert.deepEqual(failures, [], `${subject}: ${failures.length} problem(s)`);
}

test('sq.auth.limits: hostile messages get 400 wire errors; auth stays healthy', async () => {
  const valid = { ns: 'guest' };
  // the guest's limits as they are (the test harness raises them), to compare afterwards
  const before = (await h.natsRequest('sq.auth.limits', valid)).value;
  assert.deepEqual(Object.keys(before).sort(), [...LIMIT_NAMES].sort(), JSON.stringify(before));
  await expectAll400('sq.auth.limits', hostilePayloads(valid, [
    { ns: 42 }, { ns: ['guest'] }, { ns: { a: 1 } }, { ns: true }, { ns: '' }, { ns: 'bad/name' },
    { ns: ' guest' }, { ns: 'x'.repeat(300) }, { ns: 'gu\u0000est' },
  ]));
  assert.deepEqual((await h.natsRequest('sq.auth.limits', valid)).value, before, 'a good request afterwards');
});

test('sq.auth.admin: hostile messages get 400 wire errors; auth stays healthy', async () => {
  const token = h.stackEnv().vars.SQ_ADMIN_TOKEN;
  assert.ok(token, `${h.stackEnv().file} sets no SQ_ADMIN_TOKEN`);
  const never = h.uniqueName('adm_hostile');
  const valid = { token, op: 'user.get', subject: 'guest' };
  const before = (await h.natsRequest('sq.auth.limits', { ns: 'guest' })).value;
  await expectAll400('sq.auth.admin', hostilePayloads(valid, [
    { token: 42, op: 'user.list' },
    { token, op: 7 },
    { token, op: ['user.list'] },
    { op: 'user.list' },
    { token },
    { token, op: 'user.get', subject: 5 },
    { token, op: 'user.create', subject: never, namespace: { x: 1 } },
    { token, op: 'limits.set', namespace: 'guest', limits: 'many' },
    { token, op: 'limits.set', namespace: 'guest', limits: [1, 2] },
    // well-formed, but wrong for the op
    { token, op: 'user.destroy', subject: never },
    { token, op: 'user.create' },
    { token, op: 'user.create', subject: '' },
    { token, op: 'user.create', subject: 'bad/name' },
    { token, op: 'user.create', subject: 'x'.repeat(300) },
    { token, op: 'limits.get' },
    { token, op: 'limits.set', namespace: 'guest' },
    { token, op: 'limits.set', namespace: 'guest', limits: {} },
    { token, op: 'limits.set', namespace: 'guest', limits: { invocationsPerMinute: 'fast' } },
    { token, op: 'limits.set', namespace: 'guest', limits: { invocationsPerMinute: 1.5 } },
    { token, op: 'limits.set', namespace: 'guest', limits: { invocationsPerMinute: true } },
    { token, op: 'limits.set', namespace: 'guest', limits: { nope: 1 } },
    { token, op: 'limits.set', namespace: 'guest', limits: { actionMemoryMax: 4096 } },
  ]));
  // nothing was made or changed
  assert.deepEqual((await h.natsRequest('sq.auth.limits', { ns: 'guest' })).value, before, 'guest limits changed');
  const list = (await h.natsRequest('sq.auth.admin', { token, op: 'user.list' })).value;
  assert.ok(Array.isArray(list.subjects) && !list.subjects.includes(never), JSON.stringify(list));
  // a wrong token is 401, well-formed or not in its other fields
  const bad = (await h.natsRequest('sq.auth.admin', { token: token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'), op: 'user.list' })).value;
  assert.ok(isWireError(bad, 401), `wrong token: ${JSON.stringify(bad)}`);
  const good = (await h.natsRequest('sq.auth.admin', valid)).value;
  assert.equal(good.subject, 'guest', `a good request afterwards: ${JSON.stringify(good)}`);
});
