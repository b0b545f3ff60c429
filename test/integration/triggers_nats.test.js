// The NATS interface for integrators: firing a trigger by publishing to sq.fire.<ns>.<trigger>
// (a JSON object or a msgpack map; a request gets {activationId} or a wire error back), the
// per-fire event on sq.evt.trigger.<ns>.<name>, the records on sq.evt.activation.<ns>, and
// the C example examples/fire_and_follow (nats.c + msgpack-c only) run against the stack.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const h = require('../harness/squall.js');

const ECHO = 'function main(a){return Object.assign({echoed: true}, a)}';
const action = h.uniqueName('trgn_echo');
const trigger = h.uniqueName('trgn_t');
const rule = h.uniqueName('trgn_r');
let supported = true;
let why = '';

before(async () => {
  const res = await h.api('PUT', `/namespaces/_/triggers/${trigger}`, { body: { parameters: [{ key: 'from', value: 'trigger' }] } });
  if (res.status !== 200) {
    supported = false;
    why = `the registry does not store triggers yet (${h.show(res)})`;
    return;
  }
  await h.putAction(action, h.nodeAction(ECHO));
  h.expectStatus(await h.api('PUT', `/namespaces/_/rules/${rule}`, { body: { trigger: `/_/${trigger}`, action: `/_/${action}` } }), 200);
});

after(async () => {
  if (supported) {
    await h.api('DELETE', `/namespaces/_/rules/${rule}`).catch(() => {});
    await h.api('DELETE', `/namespaces/_/triggers/${trigger}`).catch(() => {});
    await h.deleteAction(action).catch(() => {});
  }
  await h.closeNats();
});

const fireSubject = (ns, t) => `sq.fire.${ns}.${t}`;

// Collects messages of subject (msgpack) until pred matches one or timeoutMs passes.
async function waitFor(subject, pred, timeoutMs = 15000) {
  const nc = await h.nats();
  const sub = nc.subscribe(subject);
  await nc.flush();
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  return {
    done: (async () => {
      for await (const m of sub) {
        const v = h.unpack(m.data);
        if (pred(v)) {
          clearTimeout(timer);
          sub.unsubscribe();
          return v;
        }
      }
      assert.fail(`nothing on ${subject} matched within ${timeoutMs} ms`);
    })(),
  };
}

// Every message of subject (msgpack) kept by activationId, until stop().
async function collect(subject) {
  const nc = await h.nats();
  const sub = nc.subscribe(subject);
  await nc.flush();
  const seen = new Map();
  (async () => {
    for await (const m of sub) {
      try {
        const v = h.unpack(m.data);
        if (v && v.activationId) seen.set(v.activationId, v);
      } catch { /* not ours to judge here */ }
    }
  })();
  return {
    async get(id, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      while (!seen.has(id) && Date.now() < deadline) await h.sleep(50);
      assert.ok(seen.has(id), `activation ${id} never announced on ${subject}`);
      return seen.get(id);
    },
    stop: () => sub.unsubscribe(),
  };
}

test('sq.fire.<ns>.<trigger> with JSON: {activationId}, the event, the rule activation record', async (t) => {
  if (!supported) return t.skip(why);
  let fired = null;
  const evt = await waitFor(`sq.evt.trigger.guest.${trigger}`, (v) => fired !== null && v.activationId === fired);
  const acts = await collect('sq.evt.activation.guest');
  try {
    const r = await h.natsRequest(fireSubject('guest', trigger), Buffer.from(JSON.stringify({ n: 7 })));
    assert.match(String(r.value.activationId), /^[0-9a-f]{32}$/, JSON.stringify(r.value));
    fired = r.value.activationId;
    const e = await evt.done;
    assert.equal(e.ns, 'guest');
    assert.equal(e.name, trigger);
    assert.deepEqual(e.payload, { from: 'trigger', n: 7 });
    assert.equal(e.rules.length, 1, JSON.stringify(e));
    assert.equal(e.rules[0].rule, `guest/${rule}`);
    assert.equal(e.rules[0].action, `guest/${action}`);
    assert.equal(e.rules[0].success, true);
    // both records are announced: the trigger's and the rule's
    const ann = await acts.get(e.rules[0].activationId);
    assert.equal(ann.name, action, JSON.stringify(ann));
    assert.equal((await acts.get(fired)).name, trigger);
    const rec = await h.pollActivation(e.rules[0].activationId, 15000);
    assert.deepEqual(rec.response.result, { echoed: true, from: 'trigger', n: 7 });
    // the trigger activation is stored like any other, subject "nats"
    const trec = await h.pollActivation(fired, 15000);
    assert.equal(trec.subject, 'nats', JSON.stringify(trec));
    assert.equal(trec.name, trigger);
  } finally {
    acts.stop();
  }
});

test('sq.fire with a msgpack map, and a plain publish without a reply subject', async (t) => {
  if (!supported) return t.skip(why);
  const r = await h.natsRequest(fireSubject('guest', trigger), h.pack({ m: 'msgpack' }));
  const trec = await h.pollActivation(r.value.activationId, 15000);
  // the trigger's record keeps the payload as fired (its parameter `from` is the rule's)
  assert.deepEqual(trec.response.result, { m: 'msgpack' });

  const evt = await waitFor(`sq.evt.trigger.guest.${trigger}`, (v) => v.payload && v.payload.p === 'publish');
  (await h.nats()).publish(fireSubject('guest', trigger), Buffer.from('{"p":"publish"}'));
  const e = await evt.done;
  await h.pollActivation(e.activationId, 15000);
});

test('sq.fire refusals are wire errors: unknown trigger 404, not an object 400, bad subject 400, too deep 400, over 1 MB 413', async (t) => {
  if (!supported) return t.skip(why);
  const cases = [
    [fireSubject('guest', h.uniqueName('trgn_absent')), Buffer.from('{}'), 404],
    [fireSubject('guest', trigger), Buffer.from('[1,2]'), 400],
    [fireSubject('guest', trigger), Buffer.from('not json'), 400],
    [fireSubject('guest', trigger), Buffer.from([0x82, 0xa1, 0x61]), 400],
    [fireSubject('gu%ZZest', trigger), Buffer.from('{}'), 400],
    [fireSubject('guest', trigger), Buffer.from(JSON.stringify({ big: 'y'.repeat(1100 * 1024) })), 413],
    // nests too deep to be carried as a record's result
    [fireSubject('guest', trigger), Buffer.from('{"a":'.repeat(29) + '1' + '}'.repeat(29)), 400],
  ];
  for (const [subject, data, code] of cases) {
    const r = await h.natsRequest(subject, data);
    assert.ok(r.value && r.value.error && r.value.error.code === code && typeof r.value.error.message === 'string',
      `${subject} (${data.length} bytes): expected a ${code} wire error, got ${JSON.stringify(r.value).slice(0, 300)}`);
  }
  // still serving
  const ok = await h.natsRequest(fireSubject('guest', trigger), Buffer.from('{}'));
  assert.match(String(ok.value.activationId), /^[0-9a-f]{32}$/);
});

test('examples/fire_and_follow fires and follows the activations over NATS', async (t) => {
  if (!supported) return t.skip(why);
  const env = h.stackEnv();
  const bin = path.join(env.vars.SQ_BUILD_DIR || '', 'examples', 'fire_and_follow');
  assert.ok(fs.existsSync(bin), `the example is not built: ${bin}`);
  const out = await new Promise((resolve, reject) => {
    execFile(bin, ['--url', env.natsUrl, '--timeout-ms', '15000', 'guest', trigger, 'who=example'], { timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)));
  });
  const lines = out.trim().split('\n');
  assert.match(lines[0], /^fired [0-9a-f]{32}$/, out);
  assert.ok(lines.some((l) => l.startsWith(`rule guest/${rule} guest/${action} `)), out);
  const act = lines.find((l) => /^activation [0-9a-f]{32} \S+ success/.test(l));
  assert.ok(act, out);
  const rec = await h.pollActivation(act.split(' ')[1], 15000);
  assert.deepEqual(rec.response.result, { echoed: true, from: 'trigger', who: 'example' }, JSON.stringify(rec));
  assert.equal(lines[lines.length - 1], 'done 1 activation(s)', out);
});

// The NATS feed: /whisk.system/nats/subscribe through the openwhisk client.
test('/whisk.system/nats/subscribe: each message on the subject fires the trigger once; pause and delete stop it', async (t) => {
  if (!supported) return t.skip(why);
  const feed = await h.api('GET', '/namespaces/whisk.system/actions/nats/subscribe?code=false');
  if (feed.status !== 200) return t.skip(`the NATS feed is not installed (${h.show(feed)})`);
  const openwhisk = h.dep('openwhisk');
  const env = h.stackEnv();
  const ow = openwhisk({ apihost: env.apiHost, api_key: env.key, namespace: '_' });
  const ft = h.uniqueName('trgn_feed');
  const fr = h.uniqueName('trgn_feedr');
  const subject = `ext.guest.${h.uniqueName('orders')}.created`;
  const nc = await h.nats();
  const fires = await collect(`sq.evt.trigger.guest.${ft}`);
  await ow.triggers.create({ name: ft });
  try {
    await ow.rules.create({ name: fr, action, trigger: ft });
    // outside ext.<ns>.: refused, nothing stored
    await assert.rejects(ow.feeds.create({ name: '/whisk.system/nats/subscribe', trigger: ft, params: { subject: 'sq.auth.verify' } }));
    await ow.feeds.create({ name: '/whisk.system/nats/subscribe', trigger: ft, params: { subject } });
    // the subscription follows the trigger change asynchronously: publish until it answers
    const seen = [];
    const evts = await waitFor(`sq.evt.trigger.guest.${ft}`, (v) => { seen.push(v); return v.payload && v.payload.order === 3; }, 20000);
    let n = 0;
    const pump = setInterval(() => nc.publish(subject, Buffer.from(JSON.stringify({ order: ++n > 3 ? 3 : n, ping: true }))), 200);
    try {
      await evts.done;
    } finally {
      clearInterval(pump);
    }
    const e = seen[seen.length - 1];
    assert.equal(e.rules.length, 1, JSON.stringify(e));
    const rec = await h.pollActivation(e.rules[0].activationId, 15000);
    assert.equal(rec.response.result.order, 3);
    assert.equal(rec.response.result.echoed, true);

    // a message that is not JSON arrives as {message: text}
    const textEvt = await waitFor(`sq.evt.trigger.guest.${ft}`, (v) => v.payload && v.payload.message === 'plain text');
    nc.publish(subject, Buffer.from('plain text'));
    await textEvt.done;

    // one message, one fire
    const one = await collect(`sq.evt.trigger.guest.${ft}`);
    const marker = h.uniqueName('once');
    nc.publish(subject, Buffer.from(JSON.stringify({ marker })));
    await h.sleep(1500);
    one.stop();

    // paused: messages are ignored; unpaused: they fire again
    const life = (lifecycleEvent) => ow.actions.invoke({ name: '/whisk.system/nats/subscribe', blocking: true, result: true,
      params: { lifecycleEvent, triggerName: `/_/${ft}`, authKey: env.key } });
    assert.deepEqual(await life('PAUSE'), {});
    await h.sleep(1000);
    const paused = Date.now();
    nc.publish(subject, Buffer.from('{"while":"paused"}'));
    await h.sleep(1000);
    assert.deepEqual(await life('UNPAUSE'), {});
    const back = await waitFor(`sq.evt.trigger.guest.${ft}`, (v) => v.payload && v.payload.back === true, 20000);
    const pump2 = setInterval(() => nc.publish(subject, Buffer.from('{"back":true}')), 200);
    try {
      await back.done;
    } finally {
      clearInterval(pump2);
    }

    await ow.feeds.delete({ name: '/whisk.system/nats/subscribe', trigger: ft });
    await h.sleep(1000);
    const before = Date.now();
    for (let i = 0; i < 5; i++) nc.publish(subject, Buffer.from('{"after":"delete"}'));
    await nc.flush();
    await h.sleep(1000);
    const res = await h.api('GET', `/namespaces/_/activations?name=${ft}&since=${paused}&limit=200&docs=true`);
    h.expectStatus(res, 200);
    const results = res.json.map((r) => (r.response && r.response.result) || {});
    assert.equal(results.filter((r) => r.while).length, 0, 'fired while paused');
    assert.equal(res.json.filter((r) => r.start >= before && ((r.response && r.response.result) || {}).after).length, 0, 'fired after feeds.delete');
    const ones = await h.api('GET', `/namespaces/_/activations?name=${ft}&limit=200&docs=true`);
    assert.equal(ones.json.filter((r) => ((r.response && r.response.result) || {}).marker === marker).length, 1, 'one message, one fire');
  } finally {
    fires.stop();
    await ow.rules.delete({ name: fr }).catch(() => {});
    await ow.triggers.delete({ name: ft }).catch(() => {});
  }
});

// Hostile requests on the triggers service's own subjects: every one is answered with a 400
// (or 404 for a well-formed fire of nothing) wire error and the service keeps serving.
test('hostile messages on sq.trigger.fire and sq.fire.>: wire errors, the service stays healthy', async (t) => {
  if (!supported) return t.skip(why);
  let x = 0x9e3779b9;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  const bufs = [];
  for (let i = 0; i < 60; i++) {
    const b = Buffer.alloc(1 + (rnd() % 64));
    for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
    bufs.push(b);
  }
  const good = { id: '0123456789abcdef0123456789abcdef', ns: 'guest', name: trigger, subject: 'guest', payload: {} };
  const wrong = [
    Object.assign({}, good, { id: 'nothex' }),
    Object.assign({}, good, { name: 42 }),
    Object.assign({}, good, { name: 'bad/name' }),
    Object.assign({}, good, { payload: 'not a map' }),
    Object.assign({}, good, { payload: [1, 2] }),
    { ns: 'guest', name: trigger },
    Object.assign({}, good, { ns: '' }),
  ];
  const isErr = (v) => v && v.error && typeof v.error.code === 'number' && v.error.code >= 400 && v.error.code < 500;
  for (const b of bufs) {
    const r = await h.natsRequest('sq.trigger.fire', b);
    assert.ok(isErr(r.value), `sq.trigger.fire ${b.toString('hex').slice(0, 40)}: ${JSON.stringify(r.value)}`);
  }
  for (const m of wrong) {
    const r = await h.natsRequest('sq.trigger.fire', h.pack(m));
    assert.ok(isErr(r.value), `sq.trigger.fire ${JSON.stringify(m)}: ${JSON.stringify(r.value)}`);
  }
  for (const b of bufs.slice(0, 20)) {
    const r = await h.natsRequest(fireSubject('guest', trigger), Buffer.concat([Buffer.from([0x81]), b]));
    assert.ok(isErr(r.value), `sq.fire with ${b.toString('hex').slice(0, 40)}: ${JSON.stringify(r.value)}`);
  }
  const health = await h.natsRequest('sq.triggers.health', h.pack({}));
  assert.equal(health.value.ok, true);
  const ok = await h.natsRequest(fireSubject('guest', trigger), Buffer.from('{"still":"here"}'));
  assert.match(String(ok.value.activationId), /^[0-9a-f]{32}$/, JSON.stringify(ok.value));
});
