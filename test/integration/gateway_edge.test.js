// The gateway's HTTP edge against hostile clients, over raw sockets, node's http client and
// curl: a whole-request deadline (a trickled body is cut off), a Content-Length over the
// limit refused before the body is sent, the key checked before a body is read (anonymous
// 50 MB uploads answered 401 at once, the gateway's memory flat), running out of file
// descriptors (no spinning, no log flood, recovery), a JSON error for every refusal (also
// the ones libwebsockets makes itself), and the HTTP details: %ff in a name, a path with
// ';', Content-Length with Transfer-Encoding, invalid UTF-8 in logs, and a key of a
// subject's second namespace opening its first one.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const h = require('../harness/squall.js');

const target = h.uniqueName('edge_target');
const created = [];

function port() {
  return h.stackEnv().gatewayPort;
}

function gatewayPid() {
  return Number(fs.readFileSync(path.join(h.stackEnv().stateDir, 'pids', 'gateway.pid'), 'utf8').trim());
}

function gatewayLog() {
  return path.join(h.stackEnv().stateDir, 'logs', 'gateway.log');
}

// Sends raw bytes, reads until the server closes or waitMs pass. Returns {text, closed, ms}.
function raw(data, waitMs = 3000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port: port() });
    let text = '';
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('connect', () => s.write(data));
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
  });
}

// The status line, headers and JSON body of a raw HTTP answer.
function parse(text) {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!m) return null;
  let json;
  try { json = JSON.parse(m[3]); } catch { json = undefined; }
  return { status: Number(m[1]), headers: m[2].toLowerCase(), body: m[3], json };
}

// A JSON OpenWhisk error with this status (or one of these).
function assertJsonError(text, status, label) {
  const r = parse(text);
  assert.ok(r, `${label}: no HTTP answer: ${JSON.stringify(text.slice(0, 300))}`);
  const want = Array.isArray(status) ? status : [status];
  assert.ok(want.includes(r.status), `${label}: status ${r.status}, want ${want}: ${JSON.stringify(text.slice(0, 300))}`);
  assert.match(r.headers, /content-type: application\/json/, `${label}: not JSON: ${JSON.stringify(text.slice(0, 300))}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length > 0,
    `${label}: no {"error"} body: ${JSON.stringify(text.slice(0, 300))}`);
  assert.equal(typeof r.json.code, 'string', `${label}: no "code": ${JSON.stringify(text.slice(0, 300))}`);
  return r;
}

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks, 100 per second on Linux
}

// An upload with a declared length that the client keeps feeding (1 MB chunks) until the
// server answers or closes. Returns {status, json, sent, ms}; status 0 when closed without
// an answer.
function upload({ method = 'PUT', p, length, key, maxMs = 20000 }) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const headers = { 'content-type': 'application/json', 'content-length': String(length) };
    if (key) headers.authorization = h.basic(key);
    const req = http.request({ host: '127.0.0.1', port: port(), method, path: '/api/v1' + p, headers, agent: false });
    let sent = 0;
    let done = false;
    const finish = (status, json) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status, json, sent, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(-1), maxMs);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        finish(res.statusCode, json);
      });
      res.on('error', () => finish(res.statusCode));
    });
    req.on('error', () => finish(0));
    const chunk = Buffer.alloc(1 << 20, 0x20);
    const pump = () => {
      while (!done && sent < length) {
        const n = Math.min(chunk.length, length - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!done && sent >= length) req.end();
    };
    req.flushHeaders();
    pump();
  });
}

before(async () => {
  await h.putAction(target, h.nodeAction("function main(a){return {ok: true}}"), {}, '?overwrite=true');
  created.push(target);
});

after(async () => {
  for (const n of created) await h.deleteAction(n).catch(() => {});
});

test('a body trickled one byte at a time is cut off by the request deadline', async () => {
  const key = Buffer.from(h.stackEnv().key).toString('base64');
  const body = '{"x":1}' + ' '.repeat(93);
  const t0 = Date.now();
  const res = await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: port() });
    let text = '';
    let i = 0;
    let timer;
    const finish = (why) => { clearInterval(timer); s.destroy(); resolve({ text, why, ms: Date.now() - t0 }); };
    s.on('connect', () => {
      s.write(`POST /api/v1/namespaces/_/actions/${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${key}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      // one byte every 2 s: 100 bytes would take 200 s
      timer = setInterval(() => { if (i < body.length) s.write(body[i++]); }, 2000);
    });
    s.on('data', (d) => { text += d; });
    s.on('close', () => finish('closed'));
    s.on('error', () => finish('error'));
    setTimeout(() => finish('still open after 30 s'), 30000);
  });
  assert.notEqual(res.why, 'still open after 30 s', `a trickled body is not cut off: ${JSON.stringify(res)}`);
  assert.ok(res.ms < 25000, `cut off only after ${res.ms} ms`);
  if (res.text.length > 0) assertJsonError(res.text, 408, 'trickled body');
});

test('headers trickled one byte at a time are cut off', async () => {
  const req = `GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
  const t0 = Date.now();
  const res = await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: port() });
    let i = 0;
    let timer;
    const finish = (why) => { clearInterval(timer); s.destroy(); resolve({ why, ms: Date.now() - t0 }); };
    s.on('connect', () => { timer = setInterval(() => { if (i < req.length) s.write(req[i++]); }, 500); });
    s.on('close', () => finish('closed'));
    s.on('error', () => finish('error'));
    setTimeout(() => finish('still open after 30 s'), 30000);
  });
  assert.notEqual(res.why, 'still open after 30 s', 'trickled headers are not cut off');
  assert.ok(res.ms < 20000, `trickled headers cut off after ${res.ms} ms`);
});

test('a Content-Length over the limit is refused with 413 before the body is sent', async () => {
  // a raw socket that declares 100 MB and sends nothing
  for (const [method, p] of [['PUT', `/api/v1/namespaces/_/actions/${target}`], ['POST', `/api/v1/namespaces/_/actions/${target}`],
    ['PUT', '/api/v1/namespaces/_/triggers/x']]) {
    const r = await raw(`${method} ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.basic(h.stackEnv().key)}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n', 5000);
    assertJsonError(r.text, 413, `${method} ${p} declaring 100 MB`);
    assert.ok(r.ms < 2000, `${method} ${p}: the 413 took ${r.ms} ms`);
    assert.ok(r.closed, `${method} ${p}: the connection stays open after the 413 (the body would follow)`);
  }
  // node's client, sending as fast as it can: the answer comes long before the body is sent
  const up = await upload({ method: 'POST', p: `/namespaces/_/actions/${target}`, length: 100e6, key: h.stackEnv().key });
  assert.equal(up.status, 413, JSON.stringify(up));
  assert.ok(up.sent < 50e6, `the 413 came after ${up.sent} bytes were sent`);
  // curl, Expect: off, a declared length far beyond what it sends
  const file = path.join(os.tmpdir(), `edge_${process.pid}.bin`);
  fs.writeFileSync(file, Buffer.alloc(2 << 20, 0x20));
  try {
    const out = await new Promise((resolve) => {
      execFile('curl', ['-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-X', 'PUT',
        '-H', 'Expect:', '-H', 'Content-Length: 100000000', '-H', `Authorization: ${h.basic(h.stackEnv().key)}`,
        '--data-binary', `@${file}`, `${h.stackEnv().apiHost}/api/v1/namespaces/_/actions/${target}`],
      (err, stdout) => resolve(String(stdout)));
    });
    const [code, secs] = out.split(' ');
    assert.equal(code, '413', `curl: ${out}`);
    assert.ok(Number(secs) < 5, `curl: the 413 took ${secs} s`);
  } finally {
    fs.unlinkSync(file);
  }
});

test('the key is checked before a large body is read: 401 at once, the gateway memory stays flat', async (t) => {
  const p = `/namespaces/_/actions/${h.uniqueName('edge_anon')}`;
  const wrong = h.stackEnv().key.split(':')[0] + ':' + 'B'.repeat(64);
  for (const key of [null, 'no-colon-here', wrong]) {
    const up = await upload({ p, length: 50 << 20, key });
    assert.equal(up.status, 401, `key ${key}: ${JSON.stringify(up)}`);
    assert.ok(up.json && typeof up.json.error === 'string', `key ${key}: ${JSON.stringify(up)}`);
    assert.ok(up.ms < 3000, `key ${key}: the 401 took ${up.ms} ms`);
  }
  const pid = gatewayPid();
  const before = rssKb(pid);
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssKb(pid)); }, 20);
  const all = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    upload({ p, length: 50 << 20, key: i % 2 ? wrong : null })));
  clearInterval(sampler);
  peak = Math.max(peak, rssKb(pid));
  for (const up of all) assert.ok(up.status === 401 || up.status === 0, `an anonymous upload: ${JSON.stringify(up)}`);
  assert.ok(all.filter((u) => u.status === 401).length >= 6, `few 401 answers: ${JSON.stringify(all)}`);
  t.diagnostic(`gateway RSS ${before} kB before, ${peak} kB at the peak of 8 anonymous 50 MB uploads`);
  assert.ok(peak - before < 40 * 1024, `the gateway RSS grew by ${Math.round((peak - before) / 1024)} MB for 8 anonymous 50 MB uploads`);
  const res = await h.api('GET', `${p}`);
  assert.equal(res.status, 404, `an anonymous upload stored something: ${h.show(res)}`);
  // an authenticated body of the same route is still read whole
  h.expectStatus(await h.invoke(target, { big: 'x'.repeat(500 * 1024) }), 200);
});

test('out of file descriptors: accepting backs off (no spin, no log flood) and recovers', async (t) => {
  const pid = gatewayPid();
  const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(limits);
  assert.ok(m, `no open file limit in /proc/${pid}/limits`);
  const [soft, hard] = [m[1], m[2]];
  const open = fs.readdirSync(`/proc/${pid}/fd`).length;
  const low = open + 16;
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${low}:${hard}`]);
  const socks = [];
  try {
    const size0 = fs.statSync(gatewayLog()).size;
    for (let i = 0; i < 120; i++) {
      const s = net.connect({ host: '127.0.0.1', port: port() });
      s.on('error', () => {});
      socks.push(s);
    }
    await h.sleep(500);
    const c0 = cpuSeconds(pid);
    const t0 = Date.now();
    await h.sleep(3000);
    const cpu = (cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000);
    const grew = fs.statSync(gatewayLog()).size - size0;
    t.diagnostic(`out of descriptors: ${Math.round(cpu * 100)} % CPU, log +${grew} bytes in 3.5 s`);
    assert.ok(cpu < 0.3, `the gateway used ${Math.round(cpu * 100)} % CPU while out of file descriptors`);
    assert.ok(grew < 16 * 1024, `the gateway log grew by ${grew} bytes in 3.5 s`);
  } finally {
    for (const s of socks) s.destroy();
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
  }
  // recovered: the next requests are served
  await h.sleep(500);
  let res;
  for (let i = 0; i < 50; i++) {
    try {
      res = await h.api('GET', '/namespaces', { timeoutMs: 3000 });
      if (res.status === 200) break;
    } catch (e) {
      res = { status: -1, text: e.message, method: 'GET', path: '/namespaces' };
    }
    await h.sleep(100);
  }
  h.expectStatus(res, 200);
});

test('every refusal is a JSON 4xx, also the ones libwebsockets makes', async () => {
  const auth = `Authorization: ${h.basic(h.stackEnv().key)}\r\n`;
  const cases = [
    ['an unknown method', 'FOO /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['a relative path', 'GET api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a bad %-escape', 'GET /api/v1/namespaces/_/actions/a%zzb HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['an unknown upgrade', 'GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n', 400],
    ['a websocket upgrade', 'GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 400],
    ['an h2c upgrade', 'GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n', 400],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    ['a Content-Length that is not a number', `PUT /api/v1/namespaces/_/actions/${target} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: abc\r\n\r\n`, 400],
    ['a negative Content-Length', `PUT /api/v1/namespaces/_/actions/${target} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: -1\r\n\r\n`, 400],
    ['a path above the root', 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [400, 404]],
    // lws makes a raw socket of a CONNECT, with no timeout: it used to stay open for ever
    ['CONNECT', 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n', 400],
  ];
  for (const [label, req, status] of cases) {
    const r = await raw(req);
    assertJsonError(r.text, status, label);
  }
});

test('a request with both Content-Length and Transfer-Encoding is refused (400) and does nothing', async () => {
  // framed by its Content-Length the body is a valid action; a server (or a proxy in front)
  // that frames it by Transfer-Encoding sees something else: refuse the ambiguity
  const n = h.uniqueName('edge_smuggle');
  const body = JSON.stringify({ exec: h.nodeAction('function main(){return {}}') });
  const r = await raw(`PUT /api/v1/namespaces/_/actions/${n} HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.basic(h.stackEnv().key)}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  assertJsonError(r.text, 400, 'Content-Length with Transfer-Encoding');
  const got = await h.api('GET', `/namespaces/_/actions/${n}`);
  if (got.status === 200) created.push(n);
  assert.equal(got.status, 404, `the ambiguous PUT stored the action: ${h.show(got)}`);
});

test('%ff in a name is 400 (invalid name), not 500', async () => {
  for (const p of ['/namespaces/_/actions/a%ffb', '/namespaces/_/triggers/%ff', '/namespaces/%ff/actions', '/namespaces/_/actions/p/%c3']) {
    const res = await h.api('GET', p);
    h.expectError(res, 400);
    assert.ok(!/out of memory/.test(res.json.error), h.show(res));
  }
  const res = await h.api('PUT', '/namespaces/_/actions/x%ff', { body: { exec: h.nodeAction('function main(){return {}}') } });
  h.expectError(res, 400);
});

test('DELETE /actions/x;y does not delete x', async () => {
  const n = h.uniqueName('edge_semi');
  await h.putAction(n, h.nodeAction('function main(){return {}}'));
  created.push(n);
  for (const suffix of [';y', ';', '&y']) {
    const res = await h.api('DELETE', `/namespaces/_/actions/${n}${suffix}`);
    h.expectError(res, 400);
    h.expectStatus(await h.api('GET', `/namespaces/_/actions/${n}`), 200);
  }
  const res = await h.api('PUT', `/namespaces/_/actions/${n};z?overwrite=true`, { body: { exec: h.nodeAction('function main(){return {z:1}}') } });
  h.expectError(res, 400);
  // escaped, ';' is part of the name, which is not a valid one
  h.expectError(await h.api('DELETE', `/namespaces/_/actions/${n}%3By`), 400);
  h.expectStatus(await h.api('GET', `/namespaces/_/actions/${n}`), 200);
});

test('log lines with invalid UTF-8 come out as strings with U+FFFD, not null', async () => {
  const n = h.uniqueName('edge_utf8');
  await h.putAction(n, h.nodeAction(`function main() {
  process.stdout.write(Buffer.from([0x61, 0xff, 0x62, 0x0a]));
  process.stdout.write(Buffer.from([0xc3, 0x28, 0x0a]));
  console.log('plain');
  return { done: true };
}`));
  created.push(n);
  const res = h.expectStatus(await h.invoke(n, {}), 200);
  const check = (logs, where) => {
    assert.ok(Array.isArray(logs), `${where}: logs ${JSON.stringify(logs)}`);
    for (const l of logs) assert.equal(typeof l, 'string', `${where}: a log line is ${JSON.stringify(l)}: ${JSON.stringify(logs)}`);
    assert.ok(logs.some((l) => / stdout: a\ufffdb$/.test(l)), `${where}: no "a\\ufffdb" line: ${JSON.stringify(logs)}`);
    assert.ok(logs.some((l) => / stdout: plain$/.test(l)), `${where}: ${JSON.stringify(logs)}`);
  };
  check(res.json.logs, 'blocking answer');
  await h.pollActivation(res.json.activationId);
  const logs = h.expectStatus(await h.api('GET', `/namespaces/_/activations/${res.json.activationId}/logs`), 200);
  check(logs.json.logs, 'GET .../logs');
});

test("a key of a subject's second namespace does not open its first one", async () => {
  const env = h.stackEnv();
  const subj = h.uniqueName('edge_two');
  const ns2 = h.uniqueName('edge_two_b');
  const bin = path.join(env.vars.SQ_BUILD_DIR, 'ops', 'squall-admin');
  const admin = (args) => JSON.parse(execFileSync(bin, args, {
    env: { PATH: process.env.PATH, SQ_NATS_URL: env.natsUrl, SQ_ADMIN_TOKEN: env.vars.SQ_ADMIN_TOKEN },
  }).toString());
  const key1 = admin(['user', 'create', subj]).key;
  try {
    const key2 = admin(['user', 'create', subj, ns2]).key;
    // each key opens its own namespace
    h.expectStatus(await h.api('GET', `/namespaces/${subj}/actions`, { key: key1 }), 200);
    h.expectStatus(await h.api('GET', `/namespaces/${ns2}/actions`, { key: key2 }), 200);
    // and not the other one
    h.expectError(await h.api('GET', `/namespaces/${subj}/actions`, { key: key2 }), 403);
    h.expectError(await h.api('PUT', `/namespaces/${subj}/actions/x`, { key: key2, body: { exec: h.nodeAction('function main(){}') } }), 403);
    h.expectError(await h.api('GET', `/namespaces/${ns2}/actions`, { key: key1 }), 403);
    const list = h.expectStatus(await h.api('GET', '/namespaces', { key: key2 }), 200);
    assert.deepEqual(list.json, [ns2], h.show(list));
    const got = await h.api('GET', `/namespaces/${subj}/actions/x`, { key: key1 });
    assert.equal(got.status, 404, `a PUT with the other namespace's key stored something: ${h.show(got)}`);
  } finally {
    admin(['user', 'delete', subj]);
  }
});

test('Expect: 100-continue: "100 Continue" once the key is verified, a 401 without it', async () => {
  const n = h.uniqueName('edge_expect');
  const body = JSON.stringify({ exec: h.nodeAction('function main(){return {expect: true}}') });
  const head = (auth) => `PUT /api/v1/namespaces/_/actions/${n} HTTP/1.1\r\nHost: x\r\n${auth}` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
  // the right key: the interim answer comes before any of the body is sent, then the PUT works
  const res = await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: port() });
    let text = '';
    let sent = false;
    const t0 = Date.now();
    const done = (why) => { s.destroy(); resolve({ text, why, ms: Date.now() - t0 }); };
    s.on('connect', () => s.write(head(`Authorization: ${h.basic(h.stackEnv().key)}\r\n`)));
    s.on('data', (d) => {
      text += d;
      if (!sent && /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(text)) {
        sent = true;
        s.write(body);
      }
    });
    s.on('close', () => done('closed'));
    s.on('error', () => done('error'));
    setTimeout(() => done('timeout'), 5000);
  });
  created.push(n);
  assert.match(res.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, `no 100 Continue, then 200: ${JSON.stringify(res)}`);
  h.expectStatus(await h.api('GET', `/namespaces/_/actions/${n}`), 200);
  // a wrong key: 401 at once, no invitation to send the body
  const wrong = h.stackEnv().key.split(':')[0] + ':' + 'C'.repeat(64);
  const r = await raw(head(`Authorization: ${h.basic(wrong)}\r\n`));
  assert.ok(!/100 Continue/.test(r.text), `a wrong key was invited to send its body: ${JSON.stringify(r.text)}`);
  assertJsonError(r.text, 401, 'Expect with a wrong key');
});
