// Web actions (/api/v1/web/...) against the real stack, as Apache OpenWhisk's
// docs/webactions.md and its WebActions controller define them: extensions, arguments,
// raw HTTP, response shaping, require-whisk-auth, final parameters, CORS and OPTIONS,
// sequences, and the REST API's own CORS preflight and HEAD.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const created = [];
after(async () => {
  for (const n of created.reverse()) {
    await h.api('DELETE', `/namespaces/_/actions/${n}`).catch(() => {});
  }
  await h.api('DELETE', `/namespaces/_/packages/${PKG}?force=true`).catch(() => {});
});

const PKG = h.uniqueName('webpkg');
const ECHO = 'function main(a){return a}';

async function put(name, code, annotations, extra = {}) {
  const res = await h.api('PUT', `/namespaces/_/actions/${name}?overwrite=true`, {
    body: Object.assign({ exec: { kind: 'nodejs:20', code }, annotations }, extra),
  });
  h.expectStatus(res, 200);
  if (!created.includes(name)) created.push(name);
  return res.json;
}

// A raw request to the web path (no key unless opts.key), any method.
async function web(path, opts = {}) {
  const env = h.stackEnv();
  const headers = Object.assign({}, opts.headers || {});
  if (opts.key) headers.authorization = h.basic(opts.key);
  const res = await fetch(`${env.apiHost}/api/v1/web/${path}`, {
    method: opts.method || 'GET', headers, body: opts.body, redirect: 'manual',
    signal: AbortSignal.timeout(30000),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json;
  try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, buf, text, json, show: `${opts.method || 'GET'} ${path} -> ${res.status} ${text.slice(0, 400)}` };
}

const EXPORT = [{ key: 'web-export', value: true }];
const echo = h.uniqueName('wecho');
const raw = h.uniqueName('wraw');
const notweb = h.uniqueName('wnot');

test('setup: web and non-web actions', async () => {
  await put(echo, ECHO, EXPORT, { parameters: [{ key: 'fixed', value: 'action' }] });
  await put(raw, ECHO, EXPORT.concat([{ key: 'raw-http', value: true }]));
  await put(notweb, ECHO, []);
});

test('an action without web-export answers 404 as OpenWhisk does; unknown names too', async () => {
  for (const p of [`guest/default/${notweb}.json`, `guest/default/nosuch_${echo}.json`,
    `guest/nosuchpkg/${echo}.json`, `nosuchns_${echo}/default/${echo}.json`, 'guest/default']) {
    const r = await web(p);
    assert.equal(r.status, 404, r.show);
    assert.equal(r.json.error, 'The requested resource does not exist.', r.show);
  }
  // an unknown extension is part of the name, so no action has it
  const r = await web(`guest/default/${echo}.xml`);
  assert.equal(r.status, 404, r.show);
});

test('.json: query and body merged (body wins) over the action\'s parameters, with __ow_* context', async () => {
  const r = await web(`guest/default/${echo}.json/some/path?name=Jane&x=q`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r1' },
    body: JSON.stringify({ x: 'body', n: 2 }),
  });
  assert.equal(r.status, 200, r.show);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.match(r.headers.get('x-openwhisk-activation-id'), /^[0-9a-f]{32}$/);
  assert.equal(r.json.name, 'Jane');
  assert.equal(r.json.x, 'body');
  assert.equal(r.json.n, 2);
  assert.equal(r.json.fixed, 'action');
  assert.equal(r.json.__ow_method, 'post');
  assert.equal(r.json.__ow_path, '/some/path');
  assert.equal(r.json.__ow_headers['content-type'], 'application/json');
  assert.equal(r.json.__ow_headers['x-request-id'], 'r1');
  assert.equal(r.json.__ow_user, undefined, 'no __ow_user without authentication');
  assert.equal(r.json.__ow_query, undefined);
});

test('form bodies become parameters; text bodies __ow_body; binary bodies base64', async () => {
  let r = await web(`guest/default/${echo}.json`, { method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two+words&c=%26' });
  assert.equal(r.status, 200, r.show);
  assert.deepEqual([r.json.a, r.json.b, r.json.c, r.json.__ow_method], ['1', 'two words', '&', 'put']);
  r = await web(`guest/default/${echo}.json`, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: 'Jane' });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.__ow_body, 'Jane');
  assert.equal(r.json.__ow_method, 'patch');
  const bin = Buffer.from([0, 1, 2, 250, 255]);
  r = await web(`guest/default/${echo}.json`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bin });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.__ow_body, bin.toString('base64'));
});

test('raw-http: __ow_query unparsed and __ow_body as sent (JSON in base64)', async () => {
  const r = await web(`guest/default/${raw}.json?name=Jane&a=b`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Jane"}' });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.__ow_query, 'name=Jane&a=b');
  assert.equal(r.json.__ow_body, Buffer.from('{"name":"Jane"}').toString('base64'));
  assert.equal(r.json.name, undefined, 'raw actions get no merged parameters');
});

test('a request may not set __ow_* parameters, nor override final ones (400)', async () => {
  let r = await web(`guest/default/${echo}.json?__ow_method=get`);
  assert.equal(r.status, 400, r.show);
  assert.equal(r.json.error, 'Request defines parameters that are not allowed (e.g., reserved properties).');
  r = await web(`guest/default/${echo}.json`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: '{"__ow_user":"admin"}' });
  assert.equal(r.status, 400, r.show);
  const fin = h.uniqueName('wfinal');
  await put(fin, ECHO, EXPORT.concat([{ key: 'final', value: true }]), { parameters: [{ key: 'name', value: 'fixed' }] });
  r = await web(`guest/default/${fin}.json?name=evil`);
  assert.equal(r.status, 400, r.show);
  r = await web(`guest/default/${fin}.json?other=ok`);
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.name, 'fixed');
  // without final, a request overrides the action's parameter
  r = await web(`guest/default/${echo}.json?fixed=mine`);
  assert.equal(r.json.fixed, 'mine', r.show);
  // malformed JSON body
  r = await web(`guest/default/${echo}.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
  assert.equal(r.status, 400, r.show);
});

test('.html, .svg, .text project their fields; a missing field is a clear 4xx', async () => {
  const a = h.uniqueName('wfields');
  await put(a, "function main(p){return p.kind==='none'?{other:1}:{html:'<b>h</b>',svg:'<svg/>',text:'plain', n: 7}}", EXPORT);
  let r = await web(`guest/default/${a}.html`);
  assert.equal(r.status, 200, r.show);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.text, '<b>h</b>');
  r = await web(`guest/default/${a}.svg`);
  assert.equal(r.status, 200, r.show);
  assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  assert.equal(r.text, '<svg/>');
  r = await web(`guest/default/${a}.text`);
  assert.equal(r.status, 200, r.show);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.equal(r.text, 'plain');
  r = await web(`guest/default/${a}.html?kind=none`);
  assert.equal(r.status, 400, r.show);
  assert.equal(r.json.error, "Response is not valid 'text/html'.");
  r = await web(`guest/default/${a}.text?kind=none`);
  assert.equal(r.status, 404, r.show);
  assert.equal(r.json.error, 'Response does not include requested property.');
});

test('.http (and no extension): statusCode, headers, base64 binary bodies, 204 for an empty body', async () => {
  const a = h.uniqueName('whttp');
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]).toString('base64');
  await put(a, `function main(p){
    if (p.k==='redirect') return {statusCode: 302, headers: {location: '/elsewhere'}};
    if (p.k==='cookies') return {headers: {'Set-Cookie': ['a=1', 'b=2'], 'Content-Type': 'text/html'}, body: '<p>c</p>'};
    if (p.k==='png') return {headers: {'Content-Type': 'image/png'}, body: '${png}'};
    if (p.k==='json') return {statusCode: 201, body: {ok: true}};
    if (p.k==='empty') return {body: ''};
    if (p.k==='badcode') return {statusCode: 'abc'};
    if (p.k==='badheader') return {headers: {x: {nested: 1}}};
    if (p.k==='badpng') return {headers: {'Content-Type': 'image/png'}, body: '%%%'};
    return {body: '<h1>hello</h1>'};
  }`, EXPORT);
  let r = await web(`guest/default/${a}`);
  assert.equal(r.status, 200, r.show);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.text, '<h1>hello</h1>');
  r = await web(`guest/default/${a}.http?k=redirect`);
  assert.equal(r.status, 302, r.show);
  assert.equal(r.headers.get('location'), '/elsewhere');
  r = await web(`guest/default/${a}.http?k=cookies`);
  assert.equal(r.status, 200, r.show);
  assert.deepEqual(r.headers.getSetCookie(), ['a=1', 'b=2']);
  r = await web(`guest/default/${a}.http?k=png`);
  assert.equal(r.status, 200, r.show);
  assert.equal(r.headers.get('content-type'), 'image/png');
  assert.equal(r.buf.toString('base64'), png);
  r = await web(`guest/default/${a}.http?k=json`);
  assert.equal(r.status, 201, r.show);
  assert.deepEqual(r.json, { ok: true });
  r = await web(`guest/default/${a}.http?k=empty`);
  assert.equal(r.status, 204, r.show);
  for (const k of ['badcode', 'badheader']) {
    r = await web(`guest/default/${a}.http?k=${k}`);
    assert.equal(r.status, 400, r.show);
    assert.equal(r.json.error, "Response is not valid 'message/http'.", r.show);
  }
  r = await web(`guest/default/${a}.http?k=badpng`);
  assert.equal(r.status, 400, r.show);
  // HEAD: the headers without the body
  r = await web(`guest/default/${a}.http`, { method: 'HEAD' });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.buf.length, 0);
});

test('errors: an application error projects its "error"; a crash is 400', async () => {
  const a = h.uniqueName('werr');
  await put(a, `function main(p){
    if (p.k==='crash') { throw new Error('boom'); }
    return {error: {statusCode: 418, body: 'teapot'}};
  }`, EXPORT);
  let r = await web(`guest/default/${a}.http`);
  assert.equal(r.status, 418, r.show);
  assert.equal(r.text, 'teapot');
  const b = h.uniqueName('wcrash');
  await put(b, 'function main(){ process.exit(3) }', EXPORT);
  r = await web(`guest/default/${b}.json`);
  assert.equal(r.status, 400, r.show);
  assert.equal(r.json.error, 'There was an error processing your request.');
});

test('require-whisk-auth: true needs a valid key (and passes __ow_user, never the key)', async () => {
  const a = h.uniqueName('wauth');
  await put(a, ECHO, EXPORT.concat([{ key: 'require-whisk-auth', value: true }]));
  let r = await web(`guest/default/${a}.json`);
  assert.equal(r.status, 401, r.show);
  r = await web(`guest/default/${a}.json`, { key: 'nosuch-uuid:wrongsecret' });
  assert.equal(r.status, 401, r.show);
  r = await web(`guest/default/${a}.json`, { key: h.stackEnv().key });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.__ow_user, 'guest');
  assert.equal(r.json.__ow_headers.authorization, undefined, 'the caller\'s key reached the action');
});

test('require-whisk-auth: a string (or number) is checked against X-Require-Whisk-Auth', async () => {
  const a = h.uniqueName('wsecret');
  await put(a, ECHO, EXPORT.concat([{ key: 'require-whisk-auth', value: 'my-secret' }]));
  let r = await web(`guest/default/${a}.json`);
  assert.equal(r.status, 401, r.show);
  r = await web(`guest/default/${a}.json`, { headers: { 'X-Require-Whisk-Auth': 'my-secreT' } });
  assert.equal(r.status, 401, r.show);
  r = await web(`guest/default/${a}.json`, { headers: { 'X-Require-Whisk-Auth': 'my-secret' } });
  assert.equal(r.status, 200, r.show);
  const b = h.uniqueName('wsecretn');
  await put(b, ECHO, EXPORT.concat([{ key: 'require-whisk-auth', value: 12345 }]));
  r = await web(`guest/default/${b}.json`, { headers: { 'X-Require-Whisk-Auth': '12345' } });
  assert.equal(r.status, 200, r.show);
  r = await web(`guest/default/${b}.json`, { headers: { 'X-Require-Whisk-Auth': '1234' } });
  assert.equal(r.status, 401, r.show);
});

test('OPTIONS: default CORS answer without running the action; web-custom-options hands it over', async () => {
  let r = await web(`guest/default/${echo}.http`, { method: 'OPTIONS', headers: { 'Access-Control-Request-Headers': 'X-Custom' } });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-methods'), 'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH');
  assert.equal(r.headers.get('access-control-allow-headers'), 'X-Custom');
  assert.equal(r.headers.get('x-openwhisk-activation-id'), null, 'OPTIONS ran the action');
  r = await web(`guest/default/${echo}.json`);
  assert.equal(r.headers.get('access-control-allow-origin'), '*', 'CORS headers on a normal answer');
  const c = h.uniqueName('wopts');
  await put(c, `function main(p){ if (p.__ow_method==='options') return {statusCode: 200,
    headers: {'Access-Control-Allow-Methods': 'OPTIONS, GET', 'Access-Control-Allow-Origin': 'example.com'}}; return {body: 'x'} }`,
  EXPORT.concat([{ key: 'web-custom-options', value: true }]));
  r = await web(`guest/default/${c}.http`, { method: 'OPTIONS' });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.headers.get('access-control-allow-methods'), 'OPTIONS, GET');
  assert.equal(r.headers.get('access-control-allow-origin'), 'example.com');
});

test('actions in packages, web sequences, and an update that withdraws web-export', async () => {
  h.expectStatus(await h.api('PUT', `/namespaces/_/packages/${PKG}`, { body: { parameters: [{ key: 'p', value: 'pkg' }] } }), 200);
  h.expectStatus(await h.api('PUT', `/namespaces/_/actions/${PKG}/a`, { body: { exec: { kind: 'nodejs:20', code: ECHO }, annotations: EXPORT } }), 200);
  let r = await web(`guest/${PKG}/a.json?q=1`);
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.p, 'pkg');
  assert.equal(r.json.q, '1');
  const s1 = h.uniqueName('wseq1');
  await put(s1, "function main(p){return {v: Number(p.v||0)+1, m: p.__ow_method}}", []);
  const seq = h.uniqueName('wseq');
  const res = await h.api('PUT', `/namespaces/_/actions/${seq}?overwrite=true`, {
    body: { exec: { kind: 'sequence', components: [`/guest/${s1}`, `/guest/${s1}`] }, annotations: EXPORT } });
  h.expectStatus(res, 200);
  created.push(seq);
  r = await web(`guest/default/${seq}.json?v=5`);
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.v, 7, r.show);
  // withdraw the annotation (web-export: false, as `wsk action update --web false` sends:
  // an update's annotations merge into the old ones): the very next request sees it
  await put(echo, ECHO, [{ key: 'web-export', value: false }]);
  r = await web(`guest/default/${echo}.json`);
  assert.equal(r.status, 404, r.show);
  await put(echo, ECHO, EXPORT, { parameters: [{ key: 'fixed', value: 'action' }] });
  r = await web(`guest/default/${echo}.json`);
  assert.equal(r.status, 200, r.show);
});

test('the activation is the owner\'s: recorded in its namespace, readable with its key', async () => {
  const r = await web(`guest/default/${echo}.json?z=1`);
  assert.equal(r.status, 200, r.show);
  const id = r.headers.get('x-openwhisk-activation-id');
  const rec = await h.pollActivation(id);
  assert.equal(rec.namespace, 'guest');
  assert.equal(rec.name, echo);
  assert.equal(rec.response.result.z, '1');
});

test('the REST API answers CORS preflights and HEAD', async () => {
  const env = h.stackEnv();
  let res = await fetch(`${env.apiHost}/api/v1/namespaces/_/actions`, { method: 'OPTIONS',
    headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
  res = await fetch(`${env.apiHost}/api/v1/namespaces/_/actions/${echo}`, { method: 'HEAD',
    headers: { authorization: h.basic(env.key) } });
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, 0);
  assert.ok(Number(res.headers.get('content-length')) > 0, 'HEAD says the length of the GET');
  res = await fetch(`${env.apiHost}/api/v1/namespaces/_/actions/${echo}`, { method: 'HEAD' });
  assert.equal(res.status, 401);
});
