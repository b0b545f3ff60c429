// A small client of the WebSocket API (GET /api/v1/ws, squall.v1) for the tests and the
// benchmark: requests by id with their one reply, events collected and awaited by
// predicate, the close code and reason.
'use strict';

const h = require('./squall.js');

const WebSocket = h.dep('ws');

class WsClient {
  // opts: port (default the stack's gateway), key (header auth; null: none), frameKey (sent
  // as the first frame), protocol (default 'squall.v1'; null: none), path.
  constructor(opts = {}) {
    const env = h.stackEnv();
    this.port = opts.port || env.gatewayPort;
    this.path = opts.path || '/api/v1/ws';
    this.nextId = 1;
    this.waiting = new Map();
    this.events = [];
    this.eventWaiters = [];
    this.frames = 0;
    this.closeInfo = null;
    const headers = {};
    if (opts.key) headers.authorization = h.basic(opts.key);
    const protocol = opts.protocol === undefined ? 'squall.v1' : opts.protocol;
    const url = `ws://127.0.0.1:${this.port}${this.path}`;
    this.ws = protocol ? new WebSocket(url, protocol, { headers, maxPayload: 64 << 20 })
      : new WebSocket(url, { headers, maxPayload: 64 << 20 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error(`upgrade answered ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        for (const [, w] of this.waiting) w.reject(new Error(`socket closed ${code} ${reason} before the reply`));
        this.waiting.clear();
        resolve(this.closeInfo);
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  onMessage(data) {
    this.frames++;
    let m;
    try {
      m = JSON.parse(data.toString());
    } catch (e) {
      this.events.push({ unparsable: data.toString().slice(0, 200) });
      return;
    }
    m.receivedAt = Date.now();
    m.receivedHr = performance.now();
    if ('id' in m && this.waiting.has(JSON.stringify(m.id))) {
      const w = this.waiting.get(JSON.stringify(m.id));
      this.waiting.delete(JSON.stringify(m.id));
      w.resolve(m);
      return;
    }
    this.events.push(m);
    this.eventWaiters = this.eventWaiters.filter((w) => {
      if (!w.pred(m)) return true;
      clearTimeout(w.timer);
      w.resolve(m);
      return false;
    });
  }

  // Sends {id, op, ...fields}; resolves with the reply (ok true or false).
  request(op, fields = {}, timeoutMs = 30000) {
    const id = fields.id !== undefined ? fields.id : this.nextId++;
    const msg = Object.assign({ id, op }, fields);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(JSON.stringify(id));
        reject(new Error(`no reply to ${op} ${JSON.stringify(fields).slice(0, 200)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(JSON.stringify(id), {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify(msg));
    });
  }

  // A request that must succeed; returns the reply.
  async ok(op, fields = {}, timeoutMs) {
    const r = await this.request(op, fields, timeoutMs);
    if (r.ok !== true) throw new Error(`${op} ${JSON.stringify(fields).slice(0, 200)} answered ${JSON.stringify(r).slice(0, 500)}`);
    return r;
  }

  send(raw) {
    this.ws.send(raw);
  }

  // Resolves with the first event (already received or to come) matching pred.
  waitEvent(pred, timeoutMs = 10000, what = 'an event') {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.eventWaiters = this.eventWaiters.filter((x) => x !== w);
        reject(new Error(`${what} did not come within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-5)).slice(0, 1500)}`));
      }, timeoutMs);
      this.eventWaiters.push(w);
    });
  }

  close() {
    try {
      this.ws.close();
    } catch {}
    return this.closed;
  }

  terminate() {
    try {
      this.ws.terminate();
    } catch {}
  }
}

// An open, authenticated socket (first frame auth unless opts.key is set).
async function connect(opts = {}) {
  const key = opts.frameKey !== undefined ? opts.frameKey : h.stackEnv().key;
  const c = new WsClient(opts);
  await c.opened;
  if (!opts.key && key) c.authReply = await c.ok('auth', { key });
  return c;
}

module.exports = { WsClient, connect, WebSocket };
