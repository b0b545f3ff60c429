// API routes (wsk api) against the real stack. The wsk CLI cannot be installed here, so the
// tests send the exact requests it makes (openwhisk-cli commands/api.go + openwhisk-client-go
// whisk/api.go: the /whisk.system/apimgmt web actions, their query options and the apidoc
// body it builds) and check the response fields it reads (gwApiUrl, apidoc paths with
// x-openwhisk and operationId, apis[].value); the openwhisk npm client's routes resource is
// driven as it is. Then the routes are called at the URL the CLI prints.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

const ow = () => h.dep('openwhisk')({ apihost: h.stackEnv().apiHost, api_key: h.stackEnv().key });

const BOOKS = h.uniqueName('rt_books');
const POSTB = h.uniqueName('rt_post');
const NOTWEB = h.uniqueName('rt_notweb');
const SECRET = h.uniqueName('rt_secret');
const PKG = h.uniqueName('rt_pkg');
const BASE = `/${h.uniqueName('club')}`;
const BASE2 = `/${h.uniqueName('shop')}`;
const BASE3 = `/${h.uniqueName('swag')}`;
const EXPORT = [{ key: 'web-export', value: true }];
const ECHO = 'function main(a){return {statusCode: 200, body: {m: a.__ow_method, p: a.__ow_path, isbn: a.isbn, q: a.q, x: a.x}}}';

after(async () => {
  for (const b of [BASE, BASE2, BASE3]) await mgmt('DELETE', 'deleteApi', { basepath: b }).catch(() => {});
  for (const n of [BOOKS, POSTB, NOTWEB, SECRET, `${PKG}/inpkg`]) await h.deleteAction(n).catch(() => {});
  await h.api('DELETE', `/namespaces/_/packages/${PKG}`).catch(() => {});
});

// A request to /api/v1/web/whisk.system/apimgmt/<action>.http as the Go client makes it:
// addRouteOptions() query (spaceguid, accesstoken and the options), Basic auth, JSON body.
async function mgmt(method, action, qs = {}, body, opts = {}) {
  const q = new URLSearchParams(Object.assign({ accesstoken: 'DUMMY TOKEN', spaceguid: h.stackEnv().key.split(':')[0] }, qs));
  const res = await h.api(method, `/web/whisk.system/apimgmt/${action}.http?${q}`, {
    body, key: opts.key, headers: opts.headers,
  });
  return res;
}

// The apidoc `wsk api create [BASE] REL VERB ACTION [-n NAME] [--response-type T]` builds
// (commands/api.go parseApi), for the namespace "_" of a default wskprops.
function cliApidoc(base, rel, verb, action, apiName) {
  const pkg = action.includes('/') ? action.split('/')[0] : 'default';
  const entity = action.includes('/') ? action.split('/')[1] : action;
  const doc = {
    namespace: '_',
    gatewayBasePath: base,
    gatewayPath: rel,
    gatewayMethod: verb.toUpperCase(),
    id: `API:_:${base}`,
    action: {
      name: action,
      namespace: '_',
      backendMethod: verb.toUpperCase(),
      backendUrl: `${h.stackEnv().apiHost}/api/v1/web/_/${pkg}/${entity}.http`,
      authkey: h.stackEnv().key,
    },
  };
  const params = [...rel.matchAll(/\{([^/]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, type: 'string',
    description: `Default description for '${m[1]}'` }));
  if (params.length) doc.pathParameters = params;
  if (apiName) doc.apiName = apiName;
  return { apidoc: doc };
}

async function cliCreate(base, rel, verb, action, { apiName, responsetype = 'json' } = {}) {
  return mgmt('POST', 'createApi', { responsetype }, cliApidoc(base, rel, verb, action, apiName));
}

// What the CLI checks of a create/get answer (whisk/api.go validateApiSwaggerResponse).
function checkRetApi(v, base) {
  assert.equal(typeof v.gwApiUrl, 'string', JSON.stringify(v));
  assert.equal(v.gwApiActivated, true);
  assert.ok(v.apidoc && v.apidoc.paths, JSON.stringify(v));
  assert.equal(v.apidoc.basePath, base);
  assert.equal(v.apidoc.swagger, '2.0');
  for (const [p, ops] of Object.entries(v.apidoc.paths)) {
    for (const [verb, op] of Object.entries(ops)) {
      const xo = op['x-openwhisk'];
      assert.ok(op.operationId, `operationId of ${verb} ${p}`);
      assert.ok(xo && xo.namespace && xo.action && xo.url, `x-openwhisk of ${verb} ${p}: ${JSON.stringify(op)}`);
    }
  }
}

// A plain request to a URL of the gateway.
async function call(url, opts = {}) {
  const res = await fetch(url, Object.assign({ signal: AbortSignal.timeout(30000) }, opts));
  const text = await res.text();
  let json;
  try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json, show: `${opts.method || 'GET'} ${url} -> ${res.status} ${text.slice(0, 300)}` };
}

const routeUrl = (base, rel) => `${h.stackEnv().apiHost}/api/guest${base}${rel}`;

test('setup: web actions, a packaged one, a secured one, and one that is not a web action', async () => {
  await h.putAction(BOOKS, h.nodeAction(ECHO), { annotations: EXPORT }, '?overwrite=true');
  await h.putAction(POSTB, h.nodeAction('function main(a){return {got: a.title, n: a.n, m: a.__ow_method}}'),
    { annotations: EXPORT }, '?overwrite=true');
  await h.putAction(NOTWEB, h.nodeAction('function main(a){return a}'), {}, '?overwrite=true');
  await h.putAction(SECRET, h.nodeAction('function main(a){return {ok: true}}'),
    { annotations: EXPORT.concat([{ key: 'require-whisk-auth', value: 'sekrit-123' }]) }, '?overwrite=true');
  h.expectStatus(await h.api('PUT', `/namespaces/_/packages/${PKG}?overwrite=true`, { body: {} }), 200);
  await h.putAction(`${PKG}/inpkg`, h.nodeAction('function main(a){return {inpkg: true, id: a.id}}'),
    { annotations: EXPORT }, '?overwrite=true');
});

test('wsk api create (CLI request): the route exists at once, without restart, at the URL it prints', async () => {
  // the gateway learns the namespace's (empty) route table first: the change must reach it
  const before = await call(routeUrl(BASE, '/books/978'));
  assert.equal(before.status, 404, before.show);
  // what `wsk api create` asks first: is the action a web action
  const a = await h.api('GET', `/namespaces/_/actions/${BOOKS}?code=false`);
  h.expectStatus(a, 200);
  assert.equal(h.annotation(a.json, 'web-export'), true);

  // every gateway learns of the change from the registry's event, not from a poll
  const nc = await h.nats();
  const sub = nc.subscribe('sq.evt.entity.guest.route', { max: 1, timeout: 10000 });
  await nc.flush();
  const r = await cliCreate(BASE, '/books/{isbn}', 'get', BOOKS, { apiName: 'Book Club', responsetype: 'http' });
  h.expectStatus(r, 200);
  for await (const m of sub) {
    assert.deepEqual(h.unpack(m.data), { ns: 'guest', kind: 'route', name: BASE, op: 'put', version: '' });
  }
  await h.closeNats();
  checkRetApi(r.json, BASE);
  assert.equal(r.json.gwApiUrl, `${h.stackEnv().apiHost}/api/guest${BASE}`);
  assert.equal(r.json.apidoc.info.title, 'Book Club');
  const op = r.json.apidoc.paths['/books/{isbn}'].get;
  assert.equal(op.operationId, 'getBooksIsbn');
  assert.deepEqual(op['x-openwhisk'], { namespace: 'guest', package: '', action: BOOKS,
    url: `${h.stackEnv().apiHost}/api/v1/web/guest/default/${BOOKS}.http` });
  assert.deepEqual(op.parameters.map((p) => [p.name, p.in]), [['isbn', 'path']]);

  // the URL the CLI prints: gwApiUrl + relpath (path parameter filled in)
  const got = await call(`${r.json.gwApiUrl}/books/978-3?q=1`);
  assert.equal(got.status, 200, got.show);
  assert.deepEqual(got.json, { m: 'get', p: `${BASE}/books/978-3`, isbn: '978-3', q: '1' });
  assert.match(got.headers.get('x-openwhisk-activation-id'), /^[0-9a-f]{32}$/);
});

test('routes are method-matched; unknown paths 404; HEAD answers as GET; a second route joins the API under its name', async () => {
  let r = await call(routeUrl(BASE, '/books/1'), { method: 'POST' });
  assert.equal(r.status, 405, r.show);
  assert.equal(typeof r.json.error, 'string');
  r = await call(routeUrl(BASE, '/books/1/extra'));
  assert.equal(r.status, 404, r.show);
  r = await call(routeUrl(BASE, '/nosuch'));
  assert.equal(r.status, 404, r.show);
  r = await call(routeUrl(BASE, '/books/1'), { method: 'HEAD' });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.text, '');
  // a browser's preflight: answered for the web action with CORS, without running it
  r = await call(routeUrl(BASE, '/books/1'), { method: 'OPTIONS', headers: { origin: 'http://example.test',
    'access-control-request-method': 'GET' } });
  assert.equal(r.status, 200, r.show);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('x-openwhisk-activation-id'), null);

  // POST /books with a JSON body, response type json (the CLI's default); the name given
  // now does not rename the API (OpenWhisk keeps the first)
  const c = await cliCreate(BASE, '/books', 'post', POSTB, { apiName: 'Other Name' });
  h.expectStatus(c, 200);
  checkRetApi(c.json, BASE);
  assert.equal(c.json.apidoc.info.title, 'Book Club');
  assert.deepEqual(Object.keys(c.json.apidoc.paths).sort(), ['/books', '/books/{isbn}']);
  assert.ok(c.json.apidoc.paths['/books'].post['x-openwhisk'].url.endsWith(`/${POSTB}.json`));
  r = await call(routeUrl(BASE, '/books'), { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Dune', n: 3 }) });
  assert.equal(r.status, 200, r.show);
  assert.deepEqual(r.json, { got: 'Dune', n: 3, m: 'post' });
  // a literal segment wins over a parameter: /books/{isbn} does not take GET /books
  r = await call(routeUrl(BASE, '/books'));
  assert.equal(r.status, 405, r.show);
});

test('a route to a packaged action; a secured action runs through its route without the secret', async () => {
  let c = await cliCreate(BASE2, '/items/{id}', 'get', `${PKG}/inpkg`, { responsetype: 'json' });
  h.expectStatus(c, 200);
  const xo = c.json.apidoc.paths['/items/{id}'].get['x-openwhisk'];
  assert.equal(xo.package, PKG);
  assert.equal(xo.action, 'inpkg');
  assert.equal(c.json.apidoc.info.title, BASE2, 'an API without a name is named by its base path');
  let r = await call(routeUrl(BASE2, '/items/42'));
  assert.equal(r.status, 200, r.show);
  assert.deepEqual(r.json, { inpkg: true, id: '42' });

  c = await cliCreate(BASE2, '/secret', 'get', SECRET);
  h.expectStatus(c, 200);
  r = await call(routeUrl(BASE2, '/secret'));
  assert.equal(r.status, 200, r.show);
  assert.deepEqual(r.json, { ok: true });
  // the web action's own URL still wants the secret
  r = await call(`${h.stackEnv().apiHost}/api/v1/web/guest/default/${SECRET}.json`);
  assert.equal(r.status, 401, r.show);
});

test('wsk api get / list (CLI requests): by base path, by API name, filtered, paged', async () => {
  // wsk api get BASE
  let r = await mgmt('GET', 'getApi', { basepath: BASE });
  h.expectStatus(r, 200);
  assert.equal(r.json.apis.length, 1, JSON.stringify(r.json));
  assert.equal(r.json.apis[0].id, `API:guest:${BASE}`);
  checkRetApi(r.json.apis[0].value, BASE);
  assert.deepEqual(Object.keys(r.json.apis[0].value.apidoc.paths).sort(), ['/books', '/books/{isbn}']);
  // wsk api get "Book Club" (an API name instead of a base path)
  r = await mgmt('GET', 'getApi', { basepath: 'Book Club' });
  h.expectStatus(r, 200);
  assert.equal(r.json.apis.length, 1);
  assert.equal(r.json.apis[0].value.apidoc.basePath, BASE);
  // wsk api list BASE /books post
  r = await mgmt('GET', 'getApi', { basepath: BASE, relpath: '/books', operation: 'POST' });
  h.expectStatus(r, 200);
  assert.deepEqual(Object.keys(r.json.apis[0].value.apidoc.paths), ['/books']);
  assert.deepEqual(Object.keys(r.json.apis[0].value.apidoc.paths['/books']), ['post']);
  // wsk api list (limit and skip as the CLI sends them)
  r = await mgmt('GET', 'getApi', { limit: 0, skip: 0 });
  h.expectStatus(r, 200);
  const bases = r.json.apis.map((a) => a.value.apidoc.basePath);
  assert.ok(bases.includes(BASE) && bases.includes(BASE2), JSON.stringify(bases));
  for (const a of r.json.apis) checkRetApi(a.value, a.value.apidoc.basePath);
  const one = await mgmt('GET', 'getApi', { limit: 1, skip: 1 });
  assert.equal(one.json.apis.length, 1);
  assert.equal(one.json.apis[0].value.apidoc.basePath, bases[1]);
  // an unknown API: an empty list (the CLI says "API does not exist for basepath")
  r = await mgmt('GET', 'getApi', { basepath: '/nosuch_api_here' });
  h.expectStatus(r, 200);
  assert.deepEqual(r.json, { apis: [] });
});

test('wsk api delete (CLI requests): an operation, a path, then the API; each change visible at once', async () => {
  let r = await mgmt('DELETE', 'deleteApi', { basepath: BASE, relpath: '/books', operation: 'POST' });
  h.expectStatus(r, 200);
  assert.deepEqual(r.json, {});
  r = await call(routeUrl(BASE, '/books'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 404, r.show);
  r = await call(routeUrl(BASE, '/books/1'));
  assert.equal(r.status, 200, r.show);
  // deleting what is not there: 404 with a message, nothing else goes
  r = await mgmt('DELETE', 'deleteApi', { basepath: BASE, relpath: '/nosuch' });
  h.expectError(r, 404);
  assert.match(r.json.error, /no path '\/nosuch'/);
  r = await call(routeUrl(BASE, '/books/1'));
  assert.equal(r.status, 200, r.show);
  // the whole API
  r = await mgmt('DELETE', 'deleteApi', { basepath: BASE });
  h.expectStatus(r, 200);
  r = await call(routeUrl(BASE, '/books/1'));
  assert.equal(r.status, 404, r.show);
  r = await mgmt('GET', 'getApi', { basepath: BASE });
  assert.deepEqual(r.json, { apis: [] });
  r = await mgmt('DELETE', 'deleteApi', { basepath: BASE });
  h.expectError(r, 404);
  assert.match(r.json.error, /does not exist/);
});

test('wsk api create --config-file: a swagger document is the entire API', async () => {
  const swagger = {
    swagger: '2.0', basePath: BASE3, info: { title: 'Swagged', version: '1.0' },
    paths: {
      '/a/{x}': { get: { operationId: 'getA', 'x-openwhisk': { namespace: '_', package: '', action: BOOKS,
        url: `${h.stackEnv().apiHost}/api/v1/web/_/default/${BOOKS}.http` }, responses: {} } },
      '/b': { put: { operationId: 'putB', 'x-openwhisk': { namespace: 'guest', package: '', action: POSTB,
        url: `${h.stackEnv().apiHost}/api/v1/web/guest/default/${POSTB}.json` }, responses: {} } },
    },
  };
  // the CLI sends the file's text as apidoc.swagger
  let r = await mgmt('POST', 'createApi', {}, { apidoc: { namespace: '_', swagger: JSON.stringify(swagger) } });
  h.expectStatus(r, 200);
  checkRetApi(r.json, BASE3);
  assert.equal(r.json.apidoc.info.title, 'Swagged');
  let c = await call(routeUrl(BASE3, '/a/7'));
  assert.equal(c.status, 200, c.show);
  assert.equal(c.json.x, '7');
  c = await call(routeUrl(BASE3, '/b'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"title":"t"}' });
  assert.equal(c.status, 200, c.show);
  assert.equal(c.json.got, 't');
  // again with one path: the API now holds only that one
  delete swagger.paths['/b'];
  r = await mgmt('POST', 'createApi', {}, { apidoc: { namespace: '_', swagger } });
  h.expectStatus(r, 200);
  assert.deepEqual(Object.keys(r.json.apidoc.paths), ['/a/{x}']);
  c = await call(routeUrl(BASE3, '/b'), { method: 'PUT', body: '{}' });
  assert.equal(c.status, 404, c.show);
});

test('the openwhisk npm client: routes.create / list / get / delete', async () => {
  const client = ow();
  const base = `/${h.uniqueName('npm')}`;
  const created = await client.routes.create({ relpath: '/hello', operation: 'GET', action: BOOKS, basepath: base,
    name: 'Npm API', responsetype: 'http' });
  assert.ok(created.gwApiUrl.endsWith(`/api/guest${base}`), JSON.stringify(created));
  let r = await call(`${created.gwApiUrl}/hello?q=z`);
  assert.equal(r.status, 200, r.show);
  assert.equal(r.json.q, 'z');
  const listed = await client.routes.list({ basepath: base });
  assert.equal(listed.apis.length, 1);
  assert.equal(listed.apis[0].value.apidoc.info.title, 'Npm API');
  const got = await client.routes.get({ name: 'Npm API' });
  assert.equal(got.apis[0].value.apidoc.basePath, base);
  await client.routes.delete({ basepath: base });
  r = await call(`${created.gwApiUrl}/hello`);
  assert.equal(r.status, 404, r.show);
});

// Every bad create below must be refused with a clear error and store nothing.
// A second gateway on the same bus (the stack's binary, its own port): a route made through
// one gateway is served by the other as soon as the registry's event reaches it, and a
// delete through the other is seen by the first, though both had read the namespace's route
// table before (kept 60 s otherwise). The writer's own gateway sees its change at once; the
// other one within the event's flight (waited for up to 3 s, far below the 60 s of the cache).
async function eventually(url, status, what) {
  const started = Date.now();
  for (;;) {
    const r = await call(url);
    if (r.status === status) return { r, ms: Date.now() - started };
    assert.ok(Date.now() - started < 3000, `${what}: still ${r.show} after 3 s`);
    await h.sleep(20);
  }
}

test('every gateway: a change through one is served by another without restart or poll', async (t) => {
  const { spawn } = require('node:child_process');
  const net = require('node:net');
  const env = h.stackEnv();
  const bin = `${env.vars.SQ_BUILD_DIR}/services/gateway/squall-gateway`;
  const port = await new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    srv.on('error', reject);
  });
  // it connects as the stack's gateway does: as NATS user "gateway" when the stack has users
  const fs = require('node:fs');
  const usersFile = `${env.stateDir}/nats/users`;
  const line = fs.existsSync(usersFile) && fs.readFileSync(usersFile, 'utf8').split('\n').find((l) => l.split(' ')[0] === 'gateway');
  const natsUrl = line ? env.natsUrl.replace(/\/\/([^@/]*@)?/, `//gateway:${line.split(' ')[1]}@`) : env.natsUrl;
  const gw2 = spawn(bin, [], { env: { PATH: process.env.PATH, SQ_NATS_URL: natsUrl, SQ_GATEWAY_HOST: '127.0.0.1',
    SQ_GATEWAY_PORT: String(port), ASAN_OPTIONS: 'detect_leaks=0' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  gw2.stderr.on('data', (d) => { stderr += d; });
  t.after(() => new Promise((resolve) => { gw2.once('exit', resolve); gw2.kill('SIGTERM'); }));
  const other = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await call(`${other}/api/v1`).catch(() => null);
    if (up && up.status === 200) break;
    assert.ok(i < 100 && gw2.exitCode === null, `the second gateway did not come up: ${stderr.slice(-500)}`);
    await h.sleep(100);
  }
  const base = `/${h.uniqueName('two')}`;
  const one = routeUrl(base, '/x');
  const two = `${other}/api/guest${base}/x`;
  for (const u of [one, two]) assert.equal((await call(u)).status, 404);
  h.expectStatus(await cliCreate(base, '/x', 'get', BOOKS, { responsetype: 'http' }), 200);
  assert.equal((await call(one)).status, 200, 'the writer\'s gateway');
  const seen = await eventually(two, 200, 'the other gateway after the create');
  assert.equal(seen.r.json.p, `${base}/x`);
  const q = new URLSearchParams({ basepath: base });
  const d = await fetch(`${other}/api/v1/web/whisk.system/apimgmt/deleteApi.http?${q}`, { method: 'DELETE',
    headers: { authorization: h.basic(env.key) } });
  assert.equal(d.status, 200);
  assert.equal((await call(two)).status, 404, 'the writer\'s gateway after the delete');
  const gone = await eventually(one, 404, 'the other gateway after the delete');
  t.diagnostic(`the other gateway saw the create after ${seen.ms} ms, the delete after ${gone.ms} ms`);
});

test('bad input: clear 4xx, nothing stored', async () => {
  const bad = `/${h.uniqueName('bad')}`;
  const cases = [
    ['malformed JSON body', { raw: '{"apidoc": ' }, 400, /malformed/],
    ['no apidoc', { body: {} }, 400, /apidoc is required/],
    ['apidoc text that is not JSON', { body: { apidoc: '{nope' } }, 400, /cannot be parsed/],
    ['no namespace', { body: { apidoc: Object.assign(cliApidoc(bad, '/x', 'get', BOOKS).apidoc, { namespace: undefined }) } }, 400, /namespace/],
    ['no gatewayPath', { body: { apidoc: Object.assign(cliApidoc(bad, '/x', 'get', BOOKS).apidoc, { gatewayPath: undefined }) } }, 400, /gatewayPath/],
    ['no action', { body: { apidoc: Object.assign(cliApidoc(bad, '/x', 'get', BOOKS).apidoc, { action: undefined }) } }, 400, /action/],
    ['relative path without /', { body: cliApidoc(bad, 'x', 'get', BOOKS) }, 400, /relative path/],
    ['parameter in the base path', { body: cliApidoc(`${bad}/{p}`, '/x', 'get', BOOKS) }, 400, /base path .* cannot have parameters/],
    ['reserved path parameter', { body: cliApidoc(bad, '/x/{__ow_path}', 'get', BOOKS) }, 400, /path parameter/],
    ['parameter twice', { body: cliApidoc(bad, '/{a}/{a}', 'get', BOOKS) }, 400, /twice/],
    ['bad verb', { body: cliApidoc(bad, '/x', 'fetch', BOOKS) }, 400, /not a valid API verb/],
    ['bad response type', { body: cliApidoc(bad, '/x', 'get', BOOKS), qs: { responsetype: 'xml' } }, 400, /response type/],
    ['unknown action', { body: cliApidoc(bad, '/x', 'get', h.uniqueName('nosuch')) }, 404, /does not exist/],
    ['not a web action', { body: cliApidoc(bad, '/x', 'get', NOTWEB) }, 400, /not a web action/],
    ['bad action name', { body: cliApidoc(bad, '/x', 'get', 'a/b/c/d') }, 400, /not a valid action name/],
    ['foreign namespace', { body: { apidoc: Object.assign(cliApidoc(bad, '/x', 'get', BOOKS).apidoc, { namespace: 'whisk.system' }) } }, 403, /not authorized/],
    ['action of a foreign namespace', { body: { apidoc: Object.assign(cliApidoc(bad, '/x', 'get', BOOKS).apidoc,
      { action: { name: 'utils/echo', namespace: 'whisk.system', backendMethod: 'GET', backendUrl: 'x' } }) } }, 403, /own namespace/],
    ['swagger operation without an action', { body: { apidoc: { namespace: '_', swagger: { swagger: '2.0', basePath: bad, info: { title: 't' },
      paths: { '/x': { get: { operationId: 'x', responses: {} } } } } } } }, 400, /names no action/],
    ['swagger without paths', { body: { apidoc: { namespace: '_', swagger: { swagger: '2.0', basePath: bad, info: { title: 't' } } } } }, 400, /Swagger file is invalid/],
  ];
  for (const [what, { body, raw, qs }, status, msg] of cases) {
    const q = new URLSearchParams(Object.assign({ accesstoken: 'DUMMY TOKEN', responsetype: 'json' }, qs || {}));
    const res = await h.api('POST', `/web/whisk.system/apimgmt/createApi.http?${q}`, raw !== undefined ? { raw } : { body });
    h.expectError(res, status);
    assert.match(res.json.error, msg, `${what}: ${h.show(res)}`);
  }
  // a valid route in the same base path, then a bad one with the same path: the good one stays
  h.expectStatus(await cliCreate(bad, '/ok', 'get', BOOKS), 200);
  h.expectError(await cliCreate(bad, '/ok', 'get', NOTWEB), 400);
  let r = await mgmt('GET', 'getApi', { basepath: bad });
  assert.equal(r.json.apis.length, 1);
  assert.deepEqual(Object.keys(r.json.apis[0].value.apidoc.paths), ['/ok']);
  assert.ok(r.json.apis[0].value.apidoc.paths['/ok'].get['x-openwhisk'].action === BOOKS);
  h.expectStatus(await mgmt('DELETE', 'deleteApi', { basepath: bad }), 200);
  r = await mgmt('GET', 'getApi', { basepath: bad });
  assert.deepEqual(r.json, { apis: [] }, 'nothing of the bad requests was stored');

  // the management calls need a valid key; the wrong method is refused
  r = await mgmt('GET', 'getApi', {}, undefined, { key: null });
  h.expectError(r, 401);
  r = await mgmt('GET', 'getApi', {}, undefined, { key: `${h.stackEnv().key.split(':')[0]}:wrongsecret` });
  h.expectError(r, 401);
  r = await mgmt('POST', 'createApi', {}, cliApidoc(bad, '/x', 'get', BOOKS), { key: null });
  h.expectError(r, 401);
  r = await mgmt('GET', 'deleteApi', { basepath: bad });
  h.expectError(r, 405);
  r = await mgmt('DELETE', 'deleteApi', {});
  h.expectError(r, 400);
  // no key ever reaches a log line or an answer: the apidoc's authkey is not echoed
  r = await cliCreate(bad, '/k', 'get', BOOKS);
  h.expectStatus(r, 200);
  assert.ok(!r.text.includes(h.stackEnv().key.split(':')[1]), 'the key came back in the answer');
  h.expectStatus(await mgmt('DELETE', 'deleteApi', { basepath: bad }), 200);
});
