// NATS level: hostile requests straight to the services' subjects (random bytes, truncated
// and trailing-garbage msgpack, wrong types, missing fields, hostile headers, deep
// nesting). Every one must be answered with the wire error {error: {code: 400, message}},
// and the service must stay healthy and keep answering good requests.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('../harness/squall.js');

after(async () => {
  await h.closeNats();
});

// Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed.
function randomBuffers(seed, count, maxLen) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + (next() % maxLen);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = next() & 0xff;
    out.push(b);
  }
  return out;
}

const hex = (b) => Buffer.from(b).toString('hex').slice(0, 80);

function isWireError(v, code) {
  return v && typeof v === 'object' && v.error && typeof v.error === 'object' &&
    v.error.code === code && typeof v.error.message === 'string' && v.error.message.length > 0;
}

const ID = () => crypto.randomBytes(16).toString('hex');

// Per subject: the owning service, a valid request, the mutations that make it wrong, and
// a check of the answer to a good request afterwards.
function subjects() {
  const env = h.stackEnv();
  return [
    {
      subject: 'sq.auth.verify', svc: 'auth',
      valid: { key: env.key },
      wrong: [{ key: 42 }, { key: { a: 1 } }, { key: ['x'] }, { key: null }, { key: true }],
      good: (v) => v && v.namespace === 'guest' && typeof v.subject === 'string' && !('error' in v),
    },
    {
      subject: 'sq.registry.put', svc: 'registry',
      valid: { ns: 'guest', name: h.uniqueName('nats_never'), kind: 'action', subject: 'guest', overwrite: false,
        entity: { exec: { kind: 'nodejs:20', code: 'function main(){return {}}' } } },
      wrong: [
        { ns: 'guest', name: 7, kind: 'action', entity: {} },
        { ns: 'guest', name: 'x', kind: 'action', entity: 'not a map' },
        { ns: ['guest'], name: 'x', kind: 'action', entity: {} },
        { ns: 'guest', name: 'x', kind: 'action', overwrite: 'yes', entity: {} },
        { ns: 'guest', name: 'x', kind: 'action' },
      ],
      good: null,
    },
    {
      subject: 'sq.registry.get', svc: 'registry',
      valid: { ns: 'guest', name: h.uniqueName('nats_absent'), kind: 'action', code: true },
      wrong: [{ ns: 'guest', name: 1, kind: 'action' }, { ns: {}, name: 'x', kind: 'action' }, { ns: 'guest', name: 'x', kind: 'action', code: 'no' }],
      good: (v) => isWireError(v, 404),
    },
    {
      subject: 'sq.registry.list', svc: 'registry',
      valid: { ns: 'guest', kind: 'action', skip: 0, limit: 10 },
      wrong: [{ ns: 'guest', kind: 'action', limit: 'ten' }, { ns: 'guest', kind: 'action', skip: 1.5 }, { ns: 5, kind: 'action' }],
      good: (v) => v && Array.isArray(v.items),
    },
    {
      subject: 'sq.registry.delete', svc: 'registry',
      valid: { ns: 'guest', name: h.uniqueName('nats_absent'), kind: 'action', code: false },
      wrong: [{ ns: 'guest', name: ['x'], kind: 'action' }],
      good: (v) => isWireError(v, 404),
    },
    {
      subject: 'sq.sched.invoke', svc: 'scheduler',
      valid: { id: ID(), ns: 'guest', name: h.uniqueName('nats_absent'), subject: 'guest', key: env.key, params: {}, blocking: true, wait_ms: 2000 },
      wrong: [
        { id: 5, ns: 'guest', name: 'x', subject: 'guest' },
        { id: ID(), ns: 'guest', name: 'x', subject: 'guest', params: true }, // an array is an input (OpenWhisk)
        { id: ID(), ns: 'guest', name: 'x', subject: 'guest', params: 'p' },
        { id: ID(), ns: 'guest', name: 'x', subject: 'guest', blocking: 'yes' },
        { id: ID(), ns: 'guest', name: 'x', subject: 'guest', wait_ms: 'long' },
        { id: ID(), ns: 'guest', name: 'x' },
      ],
      good: (v) => isWireError(v, 404),
    },
    {
      subject: 'sq.activations.get', svc: 'activations',
      valid: { ns: 'guest', id: ID(), skip: 0, limit: 1, since: 0, upto: 0, docs: false },
      wrong: [{ ns: 'guest', id: 123 }, { ns: null, id: ID() }, { ns: 'guest', id: ID(), docs: 'yes' }],
      good: (v) => isWireError(v, 404),
    },
    {
      subject: 'sq.activations.list', svc: 'activations',
      valid: { ns: 'guest', skip: 0, limit: 5, since: 0, upto: 0, docs: false },
      wrong: [{ ns: 'guest', limit: '5' }, { ns: 'guest', since: {} }],
      good: (v) => v && Array.isArray(v.items),
    },
    {
      subject: 'sq.activations.logs', svc: 'activations',
      valid: { ns: 'guest', id: ID() },
      wrong: [{ ns: 'guest', id: false }],
      good: (v) => isWireError(v, 404),
    },
  ];
}

// The hostile payloads for one subject.
function hostile(s, seed) {
  const valid = Buffer.from(h.pack(s.valid));
  const out = [];
  out.push(['empty payload', Buffer.alloc(0)]);
  out.push(['the byte 0xc1', Buffer.from([0xc1])]);
  out.push(['array32 header claiming 2^32-1 elements', Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])]);
  out.push(['map32 header claiming 2^32-1 pairs', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x6b, 0x01])]);
  out.push(['str32 header claiming 4 GB', Buffer.from([0x81, 0xa3, 0x6b, 0x65, 0x79, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])]);
  out.push(['200 nested arrays', Buffer.concat([Buffer.alloc(200, 0x91), Buffer.from([0x01])])]);
  out.push(['40 nested maps', Buffer.concat([...Array(40)].map(() => Buffer.from([0x81, 0xa1, 0x6b])).concat([Buffer.from([0x01])]))]);
  out.push(['the valid request truncated by one byte', valid.subarray(0, valid.length - 1)]);
  out.push(['the valid request truncated to half', valid.subarray(0, Math.floor(valid.length / 2))]);
  out.push(['the valid request truncated to its first byte', valid.subarray(0, 1)]);
  out.push(['the valid request followed by a nil', Buffer.concat([valid, Buffer.from([0xc0])])]);
  out.push(['a string instead of a map', h.pack('sq')]);
  out.push(['an array instead of a map', h.pack([s.valid])]);
  out.push(['an int instead of a map', h.pack(42)]);
  out.push(['nil instead of a map', h.pack(null)]);
  out.push(['an empty map', h.pack({})]);
  out.push(['a map with an int key', Buffer.from([0x81, 0x01, 0x02])]);
  out.push(['JSON text instead of msgpack', Buffer.from(JSON.stringify(s.valid))]);
  for (const w of s.wrong) out.push([`wrong types ${JSON.stringify(w).slice(0, 120)}`, h.pack(w)]);
  randomBuffers(seed, 12, 64).forEach((b, i) => out.push([`random buffer #${i} (${hex(b)})`, b]));
  // random bytes behind a map header, so the checker reads further
  randomBuffers(seed + 1, 8, 48).forEach((b, i) => {
    b[0] = 0x80 | (b[0] & 0x0f);
    out.push([`random map-like buffer #${i} (${hex(b)})`, b]);
  });
  return out;
}

async function healthy(svc) {
  const r = await h.natsRequest(`sq.${svc}.health`, h.pack({}), 3000);
  assert.ok(r.value && r.value.ok === true && r.value.service === svc, `sq.${svc}.health answered ${JSON.stringify(r.value)}`);
}

let seed = 0x9e3779b9;
for (const s of subjects()) {
  test(`${s.subject}: every hostile request gets a 400 wire error; ${s.svc} stays healthy`, async () => {
    await healthy(s.svc);
    const failures = [];
    for (const [what, payload] of hostile(s, seed++)) {
      let r;
      try {
        r = await h.natsRequest(s.subject, new Uint8Array(payload), 5000);
      } catch (e) {
        failures.push(`${what}: ${e.message}`);
        // a crashed service answers nothing more: stop here with what we know
        try {
          await healthy(s.svc);
        } catch (e2) {
          failures.push(`${s.svc} is no longer healthy after "${what}": ${e2.message}`);
          break;
        }
        continue;
      }
      if (!isWireError(r.value, 400)) {
        failures.push(`${what}: answered ${JSON.stringify(r.value).slice(0, 300)}, want {error: {code: 400, message}}`);
      }
    }
    await healthy(s.svc).catch((e) => failures.push(`${s.svc} not healthy at the end: ${e.message}`));
    if (s.good) {
      const r = await h.natsRequest(s.subject, h.pack(s.valid), 5000);
      if (!s.good(r.value)) failures.push(`a good request afterwards answered ${JSON.stringify(r.value).slice(0, 300)}`);
    }
    assert.deepEqual(failures, [], `${s.subject}: ${failures.length} problem(s)`);
  });
}

test('the hostile sq.registry.put requests stored nothing', async () => {
  const res = h.expectStatus(await h.api('GET', '/namespaces/_/actions?limit=200'), 200);
  const leaked = res.json.filter((a) => a.name === h.uniqueName('nats_never') || a.name === 'x' || a.name === '7');
  assert.deepEqual(leaked.map((a) => a.name), [], 'hostile registry.put requests left entities');
});
