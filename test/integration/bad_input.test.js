// REST API v1, bad input: each case asserts the status, an OpenWhisk error body
// ({"error": "<non-empty message>", ...}), and that nothing was stored (the entity list, a
// GET of the name, or the activation list afterwards).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const h = require('../harness/squall.js');

// A request whose body goes out in chunks (Transfer-Encoding: chunked, no Content-Length),
// so a size check that trusts Content-Length alone is caught.
function chunkedRequest(method, p, chunks) {
  const env = h.stackEnv();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: env.gatewayPort, method, path: '/api/v1' + p,
      headers: { authorization: h.basic(env.key), 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      timeout: 10000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, json, method, path: p });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => reject(new Error(`${method} ${p} (chunked): ${e.message}`)));
    (async () => {
      for (const c of chunks) {
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        if (req.destroyed) return;
      }
      req.end();
    })().catch(reject);
  });
}

const HELLO = "function main(a){return {greeting:'hello '+(a.name||'world')}}";
const target = h.uniqueName('bad_target');   // an existing action to invoke with bad input

async function actionNames() {
  const res = h.expectStatus(await h.api('GET', '/namespaces/_/actions?limit=200'), 200);
  return res.json.map((a) => a.name);
}

async function activationIds() {
  const res = h.expectStatus(await h.api('GET', '/namespaces/_/activations?limit=200'), 200);
  return new Set(res.json.map((a) => a.activationId));
}

// After a refused request: the name is unknown and not listed.
async function assertNotStored(name, label) {
  const got = await h.api('GET', `/namespaces/_/actions/${encodeURIComponent(name)}`);
  assert.ok(got.status === 404 || got.status === 400, `${label}: the refused entity can be read back: ${h.show(got)}`);
  const names = await actionNames();
  assert.ok(!names.includes(name), `${label}: the refused entity "${name}" is listed`);
}

// After a refused invoke: no activation record appears (records are written
// asynchronously, so give a wrongly made one a moment to land).
async function assertNoNewActivation(before, label) {
  await h.sleep(1000);
  const now = await activationIds();
  const added = [...now].filter((id) => !before.has(id));
  assert.deepEqual(added, [], `${label}: a refused invoke left activation records`);
}

before(async () => {
  await h.putAction(target, h.nodeAction(HELLO));
});

after(async () => {
  await h.deleteAction(target).catch(() => {});
});

test('malformed JSON body on PUT: 400 with a message, nothing stored', async () => {
  const n = h.uniqueName('bad_json');
  for (const raw of ['{"exec": {"kind": "nodejs:20", "code": "x"', '{exec: 1}', 'not json', '{"exec":{}}}']) {
    const res = await h.api('PUT', `/namespaces/_/actions/${n}`, { raw });
    h.expectError(res, 400);
    await assertNotStored(n, `PUT ${JSON.stringify(raw)}`);
  }
});

test('malformed JSON body on invoke: 400, no activation', async () => {
  const before = await activationIds();
  for (const raw of ['{"name": ', '[1, 2', 'nul']) {
    h.expectError(await h.invoke(target, undefined, 'blocking=true', { raw }), 400);
    h.expectError(await h.invoke(target, undefined, '', { raw }), 400);
  }
  await assertNoNewActivation(before, 'malformed invoke body');
});

test('an invoke payload that is not an object: 400, no activation', async () => {
  const before = await activationIds();
  for (const raw of ['[1,2]', '"just a string"', '42', 'true']) {
    h.expectError(await h.invoke(target, undefined, 'blocking=true', { raw }), 400);
  }
  await assertNoNewActivation(before, 'non-object payload');
});

// Action code may be large (48 MB); every other body is limited to 1 MB.
test('a body over 1 MB: 413, nothing stored', async () => {
  const n = h.uniqueName('bad_big');
  const big = [{ key: 'blob', value: 'x'.repeat(1100 * 1024) }];
  h.expectError(await h.api('PUT', `/namespaces/_/packages/${n}`, { body: { parameters: big } }), 413);
  h.expectError(await h.api('PUT', `/namespaces/_/triggers/${n}`, { body: { parameters: big } }), 413);
  const pk = await h.api('GET', `/namespaces/_/packages/${n}`);
  assert.ok(pk.status === 404 || pk.status === 400, `package stored after a 413: ${h.show(pk)}`);

  const before = await activationIds();
  h.expectError(await h.invoke(target, { big: 'y'.repeat(1100 * 1024) }), 413);
  h.expectError(await h.invoke(target, { big: 'y'.repeat(1100 * 1024) }, ''), 413);
  await assertNoNewActivation(before, 'invoke over 1 MB');
});

// HTTP/1.1 lets a client send a body chunked, without Content-Length (curl -T -, streaming
// clients). The gateway may decode it, or refuse it at once with 411 Length Required; it
// may not hang, and a chunked body must not get past the 1 MB limit.
test('a chunked body over 1 MB (no Content-Length): 413 or 411 at once, nothing stored', async () => {
  const n = h.uniqueName('bad_chunked');
  const head = '{"exec":{"kind":"nodejs:20","code":"// ';
  const tail = '\\nfunction main(){return {}}"}}';
  const chunks = [head];
  for (let i = 0; i < 20; i++) chunks.push('x'.repeat(64 * 1024));   // 1.25 MB in all
  chunks.push(tail);
  // The gateway refuses a chunked body at once with 411 and closes the connection (the rest
  // of the body is still on the wire); a client still sending may see the close (EPIPE,
  // ECONNRESET) before it reads the 411. Either way: no hang, nothing stored, still healthy.
  let res;
  try {
    res = await chunkedRequest('PUT', `/namespaces/_/actions/${n}`, chunks);
  } catch (e) {
    assert.match(e.message, /EPIPE|ECONNRESET|socket hang up/, `want 411/413 or a closed connection, got: ${e.message}`);
  }
  if (res) {
    assert.ok(res.status === 413 || res.status === 411, `want 413 (or 411 Length Required): ${h.show(res)}`);
    h.expectError(res, res.status);
  }
  await assertNotStored(n, 'chunked PUT over 1 MB');
  h.expectStatus(await h.api('GET', '/namespaces'), 200);
});

test('a small chunked body is read, or refused at once with 411', async () => {
  const n = h.uniqueName('chunked_ok');
  try {
    let res;
    try {
      res = await chunkedRequest('PUT', `/namespaces/_/actions/${n}`,
        ['{"exec":{"kind":"nodejs:20",', '"code":"function main(){return {chunked:true}}"}}']);
    } catch (e) {
      assert.fail(`no answer to a small chunked PUT: ${e.message}`);
    }
    if (res.status === 411) {
      h.expectError(res, 411);
      await assertNotStored(n, 'chunked PUT refused with 411');
      return;
    }
    h.expectStatus(res, 200);
    const inv = h.expectStatus(await h.invoke(n, {}), 200);
    assert.deepEqual(inv.json.response.result, { chunked: true });
  } finally {
    await h.deleteAction(n);
  }
});

test('a body just under 1 MB is accepted', async () => {
  const n = h.uniqueName('bad_almost');
  try {
    const code = '// ' + 'x'.repeat(1000 * 1000 - 200) + '\nfunction main(){return {ok:true}}';
    const res = await h.api('PUT', `/namespaces/_/actions/${n}`, { body: { exec: h.nodeAction(code) } });
    h.expectStatus(res, 200);
  } finally {
    await h.deleteAction(n);
  }
});

test('invalid entity names: 400, nothing stored', async () => {
  const bad = ['bad name ', '-x', '.x', '@x', ' x', 'a'.repeat(257), 'x\ty', 'a*b', 'caf\u00e9'];
  for (const n of bad) {
    const res = await h.api('PUT', `/namespaces/_/actions/${encodeURIComponent(n)}`, { body: { exec: h.nodeAction(HELLO) } });
    h.expectError(res, 400);
  }
  const names = await actionNames();
  for (const n of bad) assert.ok(!names.includes(n), `invalid name ${JSON.stringify(n)} is listed`);
  // names that are valid for OpenWhisk are not refused
  for (const n of [h.uniqueName('good name'), h.uniqueName('a@b.c-d'), h.uniqueName('x') + '.']) {
    const res = await h.api('PUT', `/namespaces/_/actions/${encodeURIComponent(n)}`, { body: { exec: h.nodeAction(HELLO) } });
    h.expectStatus(res, 200);
    assert.equal(res.json.name, n, h.show(res));
    h.expectStatus(await h.deleteAction(n), 200);
  }
});

test('a missing or wrong key: 401 everywhere, nothing stored', async () => {
  const env = h.stackEnv();
  const [uuid] = env.key.split(':');
  const otherSecret = crypto.randomBytes(32).toString('hex');   // 64 characters, wrong
  const cases = [
    { key: null, what: 'no Authorization header' },
    { key: `${uuid}:${otherSecret}`, what: 'wrong secret' },
    { key: `${crypto.randomUUID()}:${env.key.split(':')[1]}`, what: 'unknown uuid, right secret' },
    { key: `${uuid}`, what: 'uuid without a secret' },
    { key: `${uuid}:`, what: 'empty secret' },
    { key: `${uuid}:${env.key.split(':')[1].slice(0, 63)}`, what: 'secret one character short' },
  ];
  const n = h.uniqueName('bad_auth');
  const before = await activationIds();
  for (const c of cases) {
    h.expectError(await h.api('GET', '/namespaces', { key: c.key }), 401);
    h.expectError(await h.api('GET', '/namespaces/_/actions', { key: c.key }), 401);
    h.expectError(await h.api('PUT', `/namespaces/_/actions/${n}`, { key: c.key, body: { exec: h.nodeAction(HELLO) } }), 401);
    h.expectError(await h.invoke(target, {}, 'blocking=true', { key: c.key }), 401);
    h.expectError(await h.api('DELETE', `/namespaces/_/actions/${target}`, { key: c.key }), 401);
  }
  for (const auth of ['Bearer abc', 'Basic', 'Basic !!!not-base64!!!', 'Basic ' + Buffer.from('no-colon').toString('base64')]) {
    h.expectError(await h.api('GET', '/namespaces/_/actions', { key: null, headers: { authorization: auth } }), 401);
  }
  await assertNotStored(n, '401 PUT');
  h.expectStatus(await h.api('GET', `/namespaces/_/actions/${target}`), 200);  // the refused DELETE did not delete
  await assertNoNewActivation(before, '401 invoke');
});

test('unknown action: 404 on GET, invoke and DELETE; no activation', async () => {
  const n = h.uniqueName('no_such_action');
  const before = await activationIds();
  h.expectError(await h.api('GET', `/namespaces/_/actions/${n}`), 404);
  h.expectError(await h.invoke(n, {}), 404);
  h.expectError(await h.invoke(n, {}, ''), 404);
  h.expectError(await h.invoke(n, {}, 'blocking=true&result=true'), 404);
  h.expectError(await h.deleteAction(n), 404);
  await assertNoNewActivation(before, 'invoke of an unknown action');
});

test('unknown activation id: 404 on the record, its logs and its result', async () => {
  const id = crypto.randomBytes(16).toString('hex');
  h.expectError(await h.api('GET', `/namespaces/_/activations/${id}`), 404);
  h.expectError(await h.api('GET', `/namespaces/_/activations/${id}/logs`), 404);
  h.expectError(await h.api('GET', `/namespaces/_/activations/${id}/result`), 404);
});

test('unsupported kind: 400, nothing stored', async () => {
  const n = h.uniqueName('bad_kind');
  for (const kind of ['cobol:1', 'nodejs:0', '', 'NODEJS:20']) {
    h.expectError(await h.api('PUT', `/namespaces/_/actions/${n}`, { body: { exec: { kind, code: HELLO } } }), 400);
    await assertNotStored(n, `kind ${JSON.stringify(kind)}`);
  }
  // and an update of an existing action to a bad kind leaves it as it was
  h.expectError(await h.api('PUT', `/namespaces/_/actions/${target}?overwrite=true`, { body: { exec: { kind: 'cobol:1', code: 'x' } } }), 400);
  const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${target}`), 200);
  assert.equal(got.json.exec.kind, 'nodejs:20', h.show(got));
  assert.equal(got.json.version, '0.0.1', `a refused update bumped the version: ${h.show(got)}`);
});

test('malformed action bodies: 400, nothing stored', async () => {
  const n = h.uniqueName('bad_body');
  const bodies = [
    [{}, 'no exec'],
    [[], 'an array'],
    [{ exec: 'nodejs:20' }, 'exec a string'],
    [{ exec: { kind: 'nodejs:20' } }, 'no code'],
    [{ exec: { kind: 'nodejs:20', code: 42 } }, 'code a number'],
    [{ exec: { code: HELLO } }, 'no kind'],
    [{ exec: h.nodeAction(HELLO), parameters: { name: 'x' } }, 'parameters a map'],
    [{ exec: h.nodeAction(HELLO), limits: { timeout: 99 } }, 'timeout 99 ms (min 100)'],
    [{ exec: h.nodeAction(HELLO), limits: { timeout: 300001 } }, 'timeout 300001 ms (max 300000)'],
    [{ exec: h.nodeAction(HELLO), limits: { memory: 127 } }, 'memory 127 MB (min 128)'],
    [{ exec: h.nodeAction(HELLO), limits: { memory: 513 } }, 'memory 513 MB (max 512)'],
    [{ exec: h.nodeAction(HELLO), limits: { logs: 11 } }, 'logs 11 MB (max 10)'],
    [{ exec: h.nodeAction(HELLO), limits: { timeout: 'soon' } }, 'timeout a string'],
  ];
  for (const [body, what] of bodies) {
    const res = await h.api('PUT', `/namespaces/_/actions/${n}`, { body });
    assert.equal(res.status, 400, `${what}: ${h.show(res)}`);
    h.expectError(res, 400);
    await assertNotStored(n, what);
  }
});

test("another subject's namespace: 403, nothing stored there", async () => {
  const n = h.uniqueName('bad_ns');
  h.expectError(await h.api('GET', `/namespaces/someone_else/actions/${n}`), 403);
  h.expectError(await h.api('PUT', `/namespaces/someone_else/actions/${n}`, { body: { exec: h.nodeAction(HELLO) } }), 403);
  h.expectError(await h.api('GET', '/namespaces/someone_else/actions'), 403);
  await assertNotStored(n, 'PUT into another namespace');
});

test('unknown routes are 404 and unsupported methods 405, with an error body', async () => {
  h.expectError(await h.api('GET', '/no/such/route'), 404);
  h.expectError(await h.api('GET', '/namespaces/_/nothing_here'), 404);
  const res = await h.api('PATCH', `/namespaces/_/actions/${target}`, { body: { exec: h.nodeAction(HELLO) } });
  h.expectError(res, 405);
  const got = h.expectStatus(await h.api('GET', `/namespaces/_/actions/${target}`), 200);
  assert.equal(got.json.version, '0.0.1', `PATCH changed the action: ${h.show(got)}`);
});
