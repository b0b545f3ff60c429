// The sandboxes' network (issue 9, services/invoker/netns.h), tried as an attacker would from
// node, python and native actions: the stack's ports on 127.0.0.1 (NATS, the gateway,
// PostgreSQL), /proc/net/tcp, binding a port and reaching it from the host, and the stand-in
// hosts this test makes itself in network namespaces of its own:
//   meta   169.254.169.254      (link-local "metadata")            must not answer
//   priv   10.253.77.2          (the "platform's private network") must not answer
//   out    203.0.113.10         (TEST-NET-3, "the outside world")  must answer
//   host   203.0.113.9          (the host's own side of that link)  must not answer
// Every address the test (or an action) sends to is 127.0.0.0/8 or inside a namespace the
// test created and reaches through a veth it made; the only host routes added are the
// connected /30s of those veths, and everything is removed at the end. Needs root (the
// invoker runs its sandboxes with egress as root: netns.h).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const h = require('../harness/squall.js');

const tag = String(process.pid % 100000);
const NS = { meta: `sqt-meta-${tag}`, priv: `sqt-priv-${tag}`, out: `sqt-out-${tag}` };
// host side veth names: never "sqv*" (the invoker's prefix)
const VETH = { meta: `sqtm${tag}`, priv: `sqtp${tag}`, out: `sqto${tag}` };
const NETS = {
  meta: { host: '169.254.169.253', ns: '169.254.169.254', prefix: '169.254.169.252/30' },
  priv: { host: '10.253.77.1', ns: '10.253.77.2', prefix: '10.253.77.0/30' },
  out: { host: '203.0.113.9', ns: '203.0.113.10', prefix: '203.0.113.8/30' },
};
const PORT = 18080; // the stand-ins' listeners (inside their namespaces)
let hostPort; // a listener on the host bound to the out link's host side only
const procs = [];
let hostServer;
const names = [];
let env;

function ip(...args) {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}
function tryIp(...args) {
  try { ip(...args); } catch (e) { /* already gone */ }
}

function cleanup() {
  for (const p of procs) { try { p.kill('SIGKILL'); } catch (e) { /* gone */ } }
  if (hostServer) hostServer.close();
  for (const k of Object.keys(NS)) {
    tryIp('link', 'del', VETH[k]);
    tryIp('netns', 'del', NS[k]);
  }
}

// A namespace with eth0 = addr/30, its peer on the host with the /30's other address, and a
// TCP listener on addr:PORT that answers its name.
async function standIn(k) {
  const n = NETS[k];
  assert.equal(ip('route', 'show', n.prefix).trim(), '', `the host already routes ${n.prefix}: pick another`);
  ip('netns', 'add', NS[k]);
  ip('link', 'add', VETH[k], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS[k]);
  ip('addr', 'add', `${n.host}/30`, 'dev', VETH[k]);
  ip('link', 'set', VETH[k], 'up');
  ip('-n', NS[k], 'addr', 'add', `${n.ns}/30`, 'dev', 'eth0');
  ip('-n', NS[k], 'link', 'set', 'eth0', 'up');
  ip('-n', NS[k], 'link', 'set', 'lo', 'up');
  // replies to the sandboxes (masqueraded behind n.host) go back through the host side
  ip('-n', NS[k], 'route', 'add', 'default', 'via', n.host);
  const js = `require('net').createServer((s) => { s.end('${k}\\n'); }).listen(${PORT}, '${n.ns}', () => console.log('ready'));`;
  const p = spawn('ip', ['netns', 'exec', NS[k], process.execPath, '-e', js], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(p);
  await new Promise((resolve, reject) => {
    p.stdout.once('data', resolve);
    p.once('exit', (c) => reject(new Error(`the ${k} listener exited (${c})`)));
  });
}

// Connects and reads the banner: the text, 'open' (nothing said), 'timeout' or the error
// code. Runs on the host, and in the sandbox too: NODE_PROBE carries its source text.
function probe(host, port, ms = 1500) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let got = '';
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(ms, () => done(got ? got.trim() : 'timeout'));
    s.on('data', (d) => { got += d; });
    s.on('end', () => done(got.trim() || 'open'));
    s.on('connect', () => { if (!got) setTimeout(() => done(got.trim() || 'open'), 300); });
    s.on('error', (e) => done(e.code || 'error'));
  });
}

function targets() {
  const v = env.vars;
  const natsPort = Number(new URL(v.SQ_NATS_URL.replace(/^nats:/, 'http:')).port || 4222);
  return {
    loopback: [natsPort, Number(v.SQ_GATEWAY_PORT), Number(v.SQ_PG_PORT)].filter((x) => x > 0),
    remote: {
      meta: [NETS.meta.ns, PORT],
      priv: [NETS.priv.ns, PORT],
      out: [NETS.out.ns, PORT],
      host: [NETS.out.host, hostPort],
    },
  };
}

// ---------------------------------------------------------------- the probes

const NODE_PROBE = `
const net = require('net');
const fs = require('fs');
const connect = ${probe};
async function main(a) {
  const out = { loopback: {}, remote: {}, tcp: '' };
  try { out.tcp = fs.readFileSync('/proc/net/tcp', 'utf8'); } catch (e) { out.tcp = 'unreadable'; }
  await Promise.all(a.loopback.map(async (p) => { out.loopback[p] = await connect('127.0.0.1', p, 1000); }));
  await Promise.all(Object.entries(a.remote).map(async ([k, [h, p]]) => { out.remote[k] = await connect(h, p, 1500); }));
  if (a.bind) {
    const srv = net.createServer((s) => s.end('inside\\n'));
    out.bound = await new Promise((res) => { srv.once('error', (e) => res(e.code)); srv.listen(a.bind, '0.0.0.0', () => res('listening')); });
    out.self = await connect('127.0.0.1', a.bind, 1000);
    await new Promise((r) => setTimeout(r, a.holdMs));
    srv.close();
  }
  return out;
}`;

const PY_PROBE = `
import socket, threading, time

def connect(host, port, t):
    s = socket.socket()
    s.settimeout(t)
    try:
        s.connect((host, port))
        try:
            s.settimeout(0.3)
            got = s.recv(100).decode().strip()
        except socket.timeout:
            got = ''
        return got or 'open'
    except socket.timeout:
        return 'timeout'
    except ConnectionRefusedError:
        return 'ECONNREFUSED'
    except OSError as e:
        return 'errno %d' % e.errno
    finally:
        s.close()

def main(a):
    out = {'loopback': {}, 'remote': {}}
    try:
        out['tcp'] = open('/proc/net/tcp').read()
    except OSError:
        out['tcp'] = 'unreadable'
    for p in a['loopback']:
        out['loopback'][str(p)] = connect('127.0.0.1', p, 1.0)
    for k, (h, p) in a['remote'].items():
        out['remote'][k] = connect(h, p, 1.5)
    if a.get('bind'):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind(('0.0.0.0', a['bind']))
            srv.listen(8)
            def serve():
                while True:
                    try:
                        c, _ = srv.accept()
                    except OSError:
                        return
                    c.sendall(b'inside\\n')
                    c.close()
            threading.Thread(target=serve, daemon=True).start()
            out['bound'] = 'listening'
            out['self'] = connect('127.0.0.1', a['bind'], 1.0)
            time.sleep(a['holdMs'] / 1000.0)
        except OSError as e:
            out['bound'] = 'errno %d' % e.errno
        srv.close()
    return out
`;

// native: a shell script (blackbox: the last stdout line is the result); bash's /dev/tcp
function nativeProbe(t) {
  const lines = ['#!/bin/bash', 'set -o pipefail', 'try() { if timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2 && timeout 0.5 head -c 20 <&3" 2>/dev/null | tr -d "\\n" > /tmp/r; then r=$(cat /tmp/r); echo "${r:-open}"; else echo closed; fi; }'];
  const parts = [];
  for (const p of t.loopback) parts.push(`\\"l${p}\\":\\"$(try 127.0.0.1 ${p})\\"`);
  for (const [k, [h, p]] of Object.entries(t.remote)) parts.push(`\\"${k}\\":\\"$(try ${h} ${p})\\"`);
  lines.push('ports=$(awk \'NR>1 {split($2,a,":"); printf "%d ", strtonum("0x" a[2])}\' /proc/net/tcp)');
  lines.push(`echo "{${parts.join(',')},\\"tcpPorts\\":\\"$ports\\"}"`);
  return lines.join('\n') + '\n';
}

// Local ports listed in a /proc/net/tcp text.
function tcpPorts(text) {
  return text.split('\n').slice(1).filter(Boolean).map((l) => parseInt(l.trim().split(/\s+/)[1].split(':')[1], 16));
}

async function put(base, exec, annotations) {
  const name = h.uniqueName(base);
  names.push(name);
  await h.putAction(name, exec, annotations ? { annotations } : {});
  return name;
}

async function run(name, params) {
  const res = h.expectStatus(await h.invoke(name, params), 200);
  return res.json.response.result;
}

// ---------------------------------------------------------------- setup

before(async () => {
  env = h.stackEnv();
  assert.equal(process.getuid(), 0, 'this test makes network namespaces: run it as root');
  cleanup();
  for (const k of Object.keys(NS)) await standIn(k);
  hostServer = net.createServer((s) => s.end('hostside\n'));
  await new Promise((r) => hostServer.listen(0, NETS.out.host, r));
  hostPort = hostServer.address().port;
  // the stand-ins answer from the host: only the sandbox's rules can keep an action out
  for (const k of Object.keys(NS)) {
    assert.equal(await probe(NETS[k].ns, PORT), k, `the ${k} stand-in does not answer the host`);
  }
  assert.equal(await probe(NETS.out.host, hostPort), 'hostside');
  const hostTcp = tcpPorts(fs.readFileSync('/proc/net/tcp', 'utf8'));
  assert.ok(hostTcp.includes(Number(env.vars.SQ_GATEWAY_PORT)), 'the host lists the gateway port in /proc/net/tcp');
});

after(async () => {
  for (const n of names) await h.deleteAction(n).catch(() => {});
  cleanup();
  for (const k of Object.keys(NS)) {
    assert.equal(execFileSync('ip', ['netns', 'list']).toString().includes(NS[k]), false, `netns ${NS[k]} left`);
  }
});

function checkCommon(lang, seen, t) {
  for (const p of t.loopback) {
    const v = seen.loopback[p] ?? seen.loopback[String(p)];
    assert.ok(['ECONNREFUSED', 'errno 111', 'closed'].includes(v),
      `${lang}: 127.0.0.1:${p} (a port of the stack) answered the sandbox: ${v}`);
  }
  const ports = typeof seen.tcp === 'string' ? tcpPorts(seen.tcp) : seen.tcpPorts;
  for (const p of t.loopback) {
    assert.ok(!ports.includes(p), `${lang}: /proc/net/tcp inside lists the host's port ${p}`);
  }
  assert.equal(seen.remote.meta === 'meta', false, `${lang}: the metadata stand-in answered`);
  assert.equal(seen.remote.priv === 'priv', false, `${lang}: the private network stand-in answered`);
  assert.equal(seen.remote.host === 'hostside', false, `${lang}: the host's own address answered`);
}

// Binds port inside the action while the host keeps trying 127.0.0.1:port.
async function bindCheck(lang, name, t) {
  const port = 20000 + (process.pid % 20000);
  const holdMs = 2500;
  const p = run(name, Object.assign({}, t, { bind: port, holdMs }));
  p.catch(() => {}); // awaited below
  const hits = [];
  const t0 = Date.now();
  while (Date.now() - t0 < holdMs) {
    const r = await probe('127.0.0.1', port, 300);
    if (r !== 'ECONNREFUSED') hits.push(r);
    await h.sleep(100);
  }
  const seen = await p;
  assert.equal(seen.bound, 'listening', `${lang}: the action could not listen inside its own namespace`);
  assert.equal(seen.self, 'inside', `${lang}: the action could not reach its own listener`);
  assert.deepEqual(hits, [], `${lang}: the host reached the action's port ${port} on 127.0.0.1`);
  return seen;
}

test('node: loopback, /proc/net/tcp, the deny list and the host are out of reach; the outside answers; a bound port stays inside', async () => {
  const t = targets();
  const name = await put('net_node', h.nodeAction(NODE_PROBE));
  const seen = await bindCheck('node', name, t);
  checkCommon('node', seen, t);
  assert.equal(seen.remote.out, 'out', `node: the outside-world stand-in did not answer: ${JSON.stringify(seen.remote)}`);
});

test('python: the same', async () => {
  const t = targets();
  const name = await put('net_py', { kind: 'python:3', code: PY_PROBE });
  const seen = await bindCheck('python', name, t);
  checkCommon('python', seen, t);
  assert.equal(seen.remote.out, 'out', `python: the outside-world stand-in did not answer: ${JSON.stringify(seen.remote)}`);
});

test('native: the same (bash /dev/tcp)', async () => {
  const t = targets();
  const code = Buffer.from(nativeProbe(t)).toString('base64');
  const name = await put('net_native', { kind: 'native', code, binary: true });
  const r = await run(name, {});
  const seen = { loopback: {}, remote: {}, tcpPorts: r.tcpPorts.trim().split(/\s+/).filter(Boolean).map(Number) };
  for (const p of t.loopback) seen.loopback[p] = r[`l${p}`];
  for (const k of Object.keys(t.remote)) seen.remote[k] = r[k];
  checkCommon('native', seen, t);
  assert.equal(seen.remote.out, 'out', `native: the outside-world stand-in did not answer: ${JSON.stringify(r)}`);
});

test('annotation network: false leaves loopback only', async () => {
  const t = targets();
  const name = await put('net_off', h.nodeAction(NODE_PROBE), [{ key: 'network', value: false }]);
  const seen = await bindCheck('node (network false)', name, t);
  checkCommon('node (network false)', seen, t);
  assert.notEqual(seen.remote.out, 'out', 'an action with network: false reached the outside-world stand-in');
  // warm: still off
  const again = await run(name, t);
  assert.notEqual(again.remote.out, 'out', 'network: false: the warm container reached the outside');
});
