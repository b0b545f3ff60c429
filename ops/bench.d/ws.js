// The WebSocket API's figures (driven by ops/bench.d/ws.sh against the bench stack):
//   - idle: N authenticated idle sockets on the gateway: its RSS, and REST p50 (a warm GET of
//     an action, 1 connection) without and with them open;
//   - fan-out: an activation record to F subscribed sockets, from the record's announcement
//     on sq.evt.activation.<ns> (seen by this process on NATS) to each socket's frame;
//   - invoke: blocking invokes over one socket, one at a time (p50/p99) and 16 in flight
//     (throughput), beside REST blocking invokes measured the same way in the same run.
// Prints markdown rows | figure | p50 | p99 | note |. Knobs: SQ_BENCH_WS_IDLE (10000),
// SQ_BENCH_WS_FANOUT (1000), SECONDS_RUN.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const h = require(path.join(process.env.ROOT, 'test', 'harness', 'squall.js'));
const { WsClient } = require(path.join(process.env.ROOT, 'test', 'harness', 'wsclient.js'));

const IDLE = Number(process.env.SQ_BENCH_WS_IDLE || 10000);
const FANOUT = Number(process.env.SQ_BENCH_WS_FANOUT || 1000);
const SECS = Number(process.env.SECONDS_RUN || 10);
const ACTION = 'bench-ws';

const row = (...c) => console.log(`| ${c.join(' | ')} |`);
const pct = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
const us = (ms) => `${Math.round(ms * 1000)} µs`;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function rssKb() {
  const pid = fs.readFileSync(path.join(process.env.STATE, 'pids', 'gateway.pid'), 'utf8').trim();
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// REST latency: sequential GETs of the action over one keep-alive connection for ms.
async function restP50(ms) {
  const env = h.stackEnv();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(`${env.apiHost}/api/v1/namespaces/_/actions/${ACTION}?code=false`);
  const lat = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t0 = nowMs();
    await new Promise((resolve, reject) => {
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent,
        headers: { authorization: h.basic(env.key) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${res.statusCode}`))));
      });
      req.on('error', reject);
    });
    lat.push(nowMs() - t0);
  }
  agent.destroy();
  return lat;
}

async function openMany(n, opts = {}) {
  const out = [];
  const env = h.stackEnv();
  for (let i = 0; i < n; i += 250) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 250); j++) {
      const c = new WsClient({ key: env.key, ...opts });
      batch.push(c.opened.then(() => c));
    }
    out.push(...(await Promise.all(batch)));
  }
  // every socket's key is verified (its first request is answered)
  for (let i = 0; i < out.length; i += 500) await Promise.all(out.slice(i, i + 500).map((c) => c.ok('ping', {}, 60000)));
  return out;
}

async function idleFigures() {
  const rest0 = await restP50(SECS * 500);
  const rss0 = rssKb();
  let socks;
  let n = IDLE;
  try {
    socks = await openMany(IDLE);
  } catch (e) {
    row(`${IDLE} idle authenticated sockets`, 'n/a', 'n/a', `could not open them: ${e.message}`);
    return;
  }
  await h.sleep(1000);
  const rss1 = rssKb();
  const rest1 = await restP50(SECS * 500);
  const alive = socks.filter((c) => c.closeInfo === null).length;
  for (const c of socks) c.terminate();
  n = alive;
  const p0 = pct(rest0, 0.5), p1 = pct(rest1, 0.5);
  row(`gateway RSS with ${n} idle authenticated sockets`, `${Math.round(rss1 / 1024)} MB`, '',
    `${Math.round(rss0 / 1024)} MB before: ${((rss1 - rss0) / n).toFixed(1)} KB per socket`);
  row('REST p50 (warm GET action, 1 connection) without the sockets', us(p0), us(pct(rest0, 0.99)), `${rest0.length} requests`);
  row(`REST p50 with ${n} idle sockets open`, us(p1), us(pct(rest1, 0.99)),
    `${(((p1 - p0) / p0) * 100).toFixed(1)} % (goal within 10 %)`);
  await h.sleep(1000);
}

// A fan-out client process (forked by fanoutFigures): opens its share of the sockets,
// subscribes them, and sends back [activationId, monotonic ms] for every event frame.
async function fanoutChild(n) {
  const socks = await openMany(n);
  await Promise.all(socks.map((c) => c.ok('subscribe', { topic: 'activations', filter: { name: ACTION } })));
  const got = [];
  for (const c of socks) {
    c.ws.on('message', (d) => {
      const t = nowMs();
      const s = d.toString();
      const i = s.indexOf('"activationId":"');
      if (s.startsWith('{"sub"') && i > 0) got.push([s.slice(i + 16, i + 48), t]);
    });
  }
  process.send({ ready: true });
  process.on('message', (m) => {
    if (m.done) {
      process.send({ got });
      for (const c of socks) c.terminate();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

async function fanoutFigures() {
  const { fork } = require('node:child_process');
  const PROCS = Number(process.env.SQ_BENCH_WS_FANOUT_PROCS || 4);
  const nc = await h.nats();
  const announced = new Map(); // activationId -> monotonic ms of the announcement on NATS
  const sub = nc.subscribe('sq.evt.activation.>');
  (async () => {
    for await (const m of sub) {
      const t = nowMs();
      try {
        const v = h.unpack(m.data);
        if (v.name === ACTION) announced.set(v.activationId, t);
      } catch {}
    }
  })();
  await nc.flush();
  // several client processes: one node process parsing 1000 frames in a row would be the
  // bottleneck of the figure (hrtime is CLOCK_MONOTONIC, comparable across processes)
  const kids = [];
  for (let i = 0; i < PROCS; i++) {
    const n = Math.floor(FANOUT / PROCS) + (i < FANOUT % PROCS ? 1 : 0);
    const k = fork(__filename, ['fanout-child', String(n)], { env: process.env });
    kids.push(new Promise((resolve, reject) => {
      k.once('message', (m) => (m.ready ? resolve(k) : reject(new Error('child failed'))));
      k.once('exit', (code) => reject(new Error(`fan-out client exited ${code}`)));
    }));
  }
  const procs = await Promise.all(kids);
  const rounds = Math.max(10, SECS * 3);
  for (let i = 0; i < rounds; i++) {
    h.expectStatus(await h.invoke(ACTION, { i }, 'blocking=true&result=true'), 200);
    await h.sleep(150);
  }
  await h.sleep(1500);
  sub.unsubscribe();
  const got = [];
  await Promise.all(procs.map((k) => new Promise((resolve) => {
    k.removeAllListeners('exit');
    k.once('message', (m) => { got.push(...m.got); resolve(); });
    k.send({ done: true });
  })));
  const lat = [];
  const per = new Map();
  const firsts = new Map();
  for (const [id, t] of got) {
    const a = announced.get(id);
    if (a === undefined) continue;
    lat.push(t - a);
    per.set(id, (per.get(id) || 0) + 1);
    firsts.set(id, Math.min(firsts.get(id) ?? Infinity, t - a));
  }
  let missing = 0;
  for (const [, k] of per) missing += FANOUT - k;
  row(`fan-out, node clients: an activation record to ${FANOUT} subscribed sockets (announcement on NATS → frame read)`, us(pct(lat, 0.5)),
    us(pct(lat, 0.99)), `${per.size} records, ${lat.length} frames, ${missing} missing; ${PROCS} client processes on the same 2 cores; first socket p50 ${us(pct([...firsts.values()], 0.5))}; goal p50 ≤ 2 ms`);
}

async function invokeFigures() {
  const env = h.stackEnv();
  const c = new WsClient({ key: env.key });
  await c.opened;
  await c.ok('ping');
  for (let i = 0; i < 50; i++) await c.ok('invoke', { action: ACTION, params: { i }, result: true });
  const lat = [];
  let end = Date.now() + SECS * 500;
  while (Date.now() < end) {
    const t0 = nowMs();
    await c.ok('invoke', { action: ACTION, params: { n: 1 }, result: true });
    lat.push(nowMs() - t0);
  }
  // REST, the same way (fetch keeps one connection alive)
  const rl = [];
  end = Date.now() + SECS * 500;
  while (Date.now() < end) {
    const t0 = nowMs();
    const r = await h.invoke(ACTION, { n: 1 }, 'blocking=true&result=true');
    if (r.status !== 200) throw new Error(`REST invoke ${r.status}`);
    rl.push(nowMs() - t0);
  }
  // throughput: 16 in flight on one socket vs 16 concurrent REST requests
  const INFL = 16;
  let done = 0;
  end = Date.now() + SECS * 500;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: INFL }, async () => {
    while (Date.now() < end) {
      await c.ok('invoke', { action: ACTION, params: { n: 2 }, result: true });
      done++;
    }
  }));
  const wsRps = done / ((Date.now() - t0) / 1000);
  // REST with wrk, as the core figures: 16 connections, one request each in flight
  let restRps = NaN;
  try {
    const lua = path.join(process.env.STATE, 'ws-bench-post.lua');
    fs.writeFileSync(lua, `wrk.method = "POST"\nwrk.body = '{"n":2}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "${h.basic(env.key)}"\n`);
    const out = require('node:child_process').execFileSync('wrk', ['-t2', `-c${INFL}`, `-d${Math.max(1, Math.round(SECS / 2))}s`, '-s', lua,
      `${env.apiHost}/api/v1/namespaces/_/actions/${ACTION}?blocking=true&result=true`]).toString();
    const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
    if (m && !/Non-2xx/.test(out)) restRps = Number(m[1]);
  } catch {}
  c.terminate();
  row('WebSocket blocking invoke, 1 socket, 1 at a time', us(pct(lat, 0.5)), us(pct(lat, 0.99)), `${lat.length} invokes; node client`);
  row('REST blocking invoke, 1 connection, same client, same run', us(pct(rl, 0.5)), us(pct(rl, 0.99)), `${rl.length} invokes (goal: WS ≤ REST)`);
  row(`WebSocket invoke throughput, ${INFL} in flight on 1 socket`, `${Math.round(wsRps)} /s`, '', `REST (wrk, ${INFL} connections): ${Number.isNaN(restRps) ? 'n/a' : Math.round(restRps)} /s`);
}

if (process.argv[2] === 'fanout-child') {
  fanoutChild(Number(process.argv[3])).catch((e) => { console.error(e); process.exit(1); });
} else (async () => {
  const put = await h.api('PUT', `/namespaces/_/actions/${ACTION}?overwrite=true`, {
    body: { exec: { kind: 'nodejs:20', code: 'function main(a) { return { ok: true, n: a.n || 0 }; }' } },
  });
  if (put.status !== 200) {
    row('WebSocket figures', 'n/a', 'n/a', `could not create the action (${put.status})`);
    return;
  }
  const only = process.env.SQ_BENCH_WS_ONLY || 'idle,fanout,invoke';
  if (only.includes('invoke')) await invokeFigures();
  if (only.includes('fanout')) await fanoutFigures();
  if (only.includes('idle')) await idleFigures();
  await h.closeNats();
  process.exit(0);
})().catch((e) => {
  row('WebSocket figures', 'n/a', 'n/a', `failed: ${String(e.message).replace(/\|/g, '/')}`);
  process.exit(0);
});
