// Triggers and rules over REST: a fire runs every active rule's action with the trigger's
// parameters under the payload, answers 202 {activationId} (204 when no rule is active),
// records a trigger activation whose logs list each rule's outcome as OpenWhisk writes them,
// and a rule switched off or on is seen by the very next fire. Bad input: a missing trigger
// (404), a foreign namespace (403), a payload over 1 MB (413), a body that is not an object
// (400), fires beyond the namespace's firesPerMinute (429). Real stack: gateway ->
// squall-triggers -> registry, scheduler -> invoker, records through JetStream.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('../harness/squall.js');

const ECHO = 'function main(a){console.log("got " + JSON.stringify(a)); return a}';
const [action, action2, gone, trigger, lonely, rule, rule2, ruleGone, gtrigger] = h.uniqueNames(
  'trg_echo', 'trg_echo2', 'trg_gone', 'trg_t', 'trg_lonely', 'trg_r', 'trg_r2', 'trg_rgone', 'trg_g');
let supported = true;
let why = '';
const causedBy = [];   // [rule activation record, trigger activation id]

const T = (n) => `/namespaces/_/triggers/${encodeURIComponent(n)}`;
const R = (n) => `/namespaces/_/rules/${encodeURIComponent(n)}`;

async function putTrigger(name, body = {}) {
  return h.api('PUT', T(name), { body });
}
async function putRule(name, trig, act) {
  const res = await h.api('PUT', R(name), { body: { trigger: `/_/${trig}`, action: `/_/${act}` } });
  h.expectStatus(res, 200);
  return res.json;
}
async function fire(name, payload = {}) {
  return h.api('POST', T(name), { body: payload });
}
async function setRule(name, status) {
  const res = await h.api('POST', R(name), { body: { status } });
  h.expectStatus(res, 200);
}

before(async () => {
  // the registry learns triggers and rules in its own issue: without them there is nothing
  // to fire, and these tests say so instead of failing
  const res = await putTrigger(trigger, { parameters: [{ key: 'a', value: 1 }, { key: 'b', value: 'trigger' }] });
  if (res.status !== 200) {
    supported = false;
    why = `the registry does not store triggers yet (${h.show(res)})`;
    return;
  }
  await h.putAction(action, h.nodeAction(ECHO));
  await h.putAction(action2, h.nodeAction(ECHO));
  await h.putAction(gone, h.nodeAction(ECHO));
  await putRule(rule, trigger, action);
  h.expectStatus(await putTrigger(lonely), 200);
});

after(async () => {
  if (supported) {
    for (const r of [rule, rule2, ruleGone]) await h.api('DELETE', R(r)).catch(() => {});
    for (const t of [trigger, lonely, gtrigger]) await h.api('DELETE', T(t)).catch(() => {});
    for (const a of [action, action2, gone]) await h.deleteAction(a).catch(() => {});
  }
  await h.closeNats();
});

// The stored record of id, polled.
const record = (id) => h.pollActivation(id, 15000);

// The stored record of id in the namespace of opts.key, polled.
async function pollAs(id, opts) {
  const deadline = Date.now() + 15000;
  let last;
  while (Date.now() < deadline) {
    last = await h.api('GET', `/namespaces/_/activations/${id}`, opts);
    if (last.status === 200) return last.json;
    if (last.status !== 404) break;
    await h.sleep(100);
  }
  return assert.fail(`activation ${id} not readable within 15 s: ${h.show(last)}`);
}

function parseLogs(rec) {
  return rec.logs.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`a trigger log line is not JSON: ${l}`);
    }
  });
}

test('fire: 202 {activationId}, the rule runs with parameters under the payload, the trigger is recorded with the payload as its result', async (t) => {
  if (!supported) return t.skip(why);
  const t0 = Date.now();
  const res = await fire(trigger, { b: 'payload', c: [1, 2] });
  h.expectStatus(res, 202);
  assert.match(String(res.json && res.json.activationId), /^[0-9a-f]{32}$/, h.show(res));
  assert.deepEqual(Object.keys(res.json), ['activationId'], h.show(res));
  const trec = await record(res.json.activationId);
  const where = JSON.stringify(trec);
  assert.equal(trec.name, trigger, where);
  assert.equal(trec.namespace, 'guest', where);
  assert.equal(trec.version, '0.0.1', where);
  assert.equal(typeof trec.subject, 'string', where);
  assert.ok(trec.start >= t0 - 2000 && trec.start <= Date.now() + 2000, `start: ${where}`);
  assert.equal(trec.duration, trec.end - trec.start, where);
  // as OpenWhisk: the trigger activation's result is the payload as fired; the trigger's
  // parameters (a: 1) are merged only into what the rule's action gets
  assert.deepEqual(trec.response, { status: 'success', statusCode: 0, success: true, result: { b: 'payload', c: [1, 2] } }, where);
  const logs = parseLogs(trec);
  assert.equal(logs.length, 1, where);
  assert.deepEqual(Object.keys(logs[0]), ['statusCode', 'success', 'activationId', 'rule', 'action'], where);
  assert.equal(logs[0].statusCode, 0, where);
  assert.equal(logs[0].success, true, where);
  assert.equal(logs[0].rule, `guest/${rule}`, where);
  assert.equal(logs[0].action, `guest/${action}`, where);
  assert.match(logs[0].activationId, /^[0-9a-f]{32}$/, where);

  const arec = await record(logs[0].activationId);
  h.checkRecord(arec, { name: action, result: { a: 1, b: 'payload', c: [1, 2] } }, 'rule activation:');
  causedBy.push([arec, trec.activationId]);
});

// The triggers service sends each rule's invoke with sq_invoke.cause = the trigger activation
// id; the scheduler passes it on as sq_work.cause with caused_by "trigger", and the invoker
// writes the annotations causedBy: "trigger" and cause: <trigger activation id>.
test('rule activations are annotated causedBy the trigger', async (t) => {
  if (!supported) return t.skip(why);
  assert.ok(causedBy.length > 0, 'no rule activation to look at');
  for (const [arec, tid] of causedBy) {
    assert.equal(h.annotation(arec, 'causedBy'), 'trigger', `causedBy: ${JSON.stringify(arec.annotations)}`);
    assert.equal(h.annotation(arec, 'cause'), tid, `cause: ${JSON.stringify(arec.annotations)}`);
  }
});

test('fire with no active rule: 204 without a body, and no trigger activation', async (t) => {
  if (!supported) return t.skip(why);
  const res = await fire(lonely, { x: 1 });
  h.expectStatus(res, 204);
  assert.equal(res.text, '', h.show(res));
});

test('a rule switched off or on is seen by the very next fire', async (t) => {
  if (!supported) return t.skip(why);
  for (let i = 0; i < 5; i++) {
    await setRule(rule, 'inactive');
    h.expectStatus(await fire(trigger, { round: i }), 204);
    await setRule(rule, 'active');
    h.expectStatus(await fire(trigger, { round: i }), 202);
  }
});

test('fan-out: every active rule runs once, an inactive one does not, a failing one is logged', async (t) => {
  if (!supported) return t.skip(why);
  await putRule(rule2, trigger, action2);
  await putRule(ruleGone, trigger, gone);
  // the action of ruleGone disappears: its invoke is refused, the others go on
  h.expectStatus(await h.deleteAction(gone), 200);
  const res = await fire(trigger, { fan: true });
  h.expectStatus(res, 202);
  const trec = await record(res.json.activationId);
  const logs = parseLogs(trec);
  const byRule = Object.fromEntries(logs.map((l) => [l.rule, l]));
  assert.equal(logs.length, 3, JSON.stringify(trec.logs));
  for (const [r, a] of [[rule, action], [rule2, action2]]) {
    const l = byRule[`guest/${r}`];
    assert.ok(l && l.success === true && l.statusCode === 0 && l.action === `guest/${a}`, JSON.stringify(trec.logs));
    const arec = await record(l.activationId);
    assert.deepEqual(arec.response.result, { a: 1, b: 'trigger', fan: true }, JSON.stringify(arec));
  }
  const bad = byRule[`guest/${ruleGone}`];
  assert.ok(bad, JSON.stringify(trec.logs));
  assert.equal(bad.success, false, JSON.stringify(bad));
  assert.notEqual(bad.statusCode, 0, JSON.stringify(bad));
  assert.equal(typeof bad.error, 'string', JSON.stringify(bad));
  assert.equal(bad.activationId, undefined, JSON.stringify(bad));

  await setRule(rule2, 'inactive');
  const res2 = await fire(trigger, {});
  h.expectStatus(res2, 202);
  const logs2 = parseLogs(await record(res2.json.activationId));
  assert.deepEqual(logs2.map((l) => l.rule).sort(), [`guest/${rule}`, `guest/${ruleGone}`].sort());
});

test('bad fires: missing trigger 404, foreign namespace 403, body not an object 400, over 1 MB 413', async (t) => {
  if (!supported) return t.skip(why);
  h.expectError(await fire(h.uniqueName('trg_absent')), 404);
  h.expectError(await h.api('POST', `/namespaces/someone_else/triggers/${trigger}`, { body: {} }), 403);
  h.expectError(await h.api('POST', T(trigger), { raw: '[1,2]' }), 400);
  h.expectError(await h.api('POST', T(trigger), { raw: '{"a":' }), 400);
  h.expectError(await h.api('POST', T(trigger), { body: { big: 'x'.repeat(1100 * 1024) } }), 413);
});

// A namespace of its own with firesPerMinute 3 (or the limits given), made with squall-admin
// when the build has it.
function adminNamespace(limits = ['firesPerMinute=3']) {
  const env = h.stackEnv();
  const bin = path.join(env.vars.SQ_BUILD_DIR || '', 'ops', 'squall-admin');
  if (!env.vars.SQ_BUILD_DIR || !fs.existsSync(bin) || !env.vars.SQ_ADMIN_TOKEN) return null;
  const run = (...args) => JSON.parse(execFileSync(bin, ['--url', env.natsUrl, ...args], {
    env: Object.assign({}, process.env, { SQ_ADMIN_TOKEN: env.vars.SQ_ADMIN_TOKEN }),
  }).toString());
  const subject = h.uniqueName('trgrate');
  let made;
  try {
    made = run('user', 'create', subject);
    run('namespace', 'limits', 'set', subject, ...limits);
  } catch (e) {
    return { error: e.message };
  }
  const key = made.key || (made.namespaces && made.namespaces[0] && made.namespaces[0].key) ||
    (made.uuid && made.secret ? `${made.uuid}:${made.secret}` : null);
  return key ? { subject, key, run } : { error: `no key in ${JSON.stringify(made)}` };
}

test('fires beyond firesPerMinute: 429', async (t) => {
  if (!supported) return t.skip(why);
  const ns = adminNamespace();
  if (!ns || ns.error) return t.skip(`no squall-admin to make a namespace with its own limits${ns ? ': ' + ns.error : ''}`);
  const opts = { key: ns.key };
  const tn = 'rated';
  h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${tn}`, Object.assign({ body: {} }, opts)), 200);
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await h.api('POST', `/namespaces/_/triggers/${tn}`, Object.assign({ body: {} }, opts))).status);
    assert.deepEqual(codes.slice(0, 3), [204, 204, 204], `fires within the limit: ${codes}`);
    assert.deepEqual(codes.slice(3), [429, 429], `fires beyond the limit: ${codes}`);
    const res = await h.api('POST', `/namespaces/_/triggers/${tn}`, Object.assign({ body: {} }, opts));
    h.expectError(res, 429);
    assert.match(res.json.error, /allowed: 3/, h.show(res));
  } finally {
    await h.api('DELETE', `/namespaces/_/triggers/${tn}`, opts).catch(() => {});
    try { ns.run('user', 'delete', ns.subject); } catch { /* best effort */ }
  }
});

test('fan-out within invocationsPerMinute 2: two rules run, the third is refused 429 in the record', async (t) => {
  if (!supported) return t.skip(why);
  const ns = adminNamespace(['invocationsPerMinute=2']);
  if (!ns || ns.error) return t.skip(`no squall-admin to make a namespace with its own limits${ns ? ': ' + ns.error : ''}`);
  const opts = { key: ns.key };
  const tn = 'limited';
  const rules = ['lr1', 'lr2', 'lr3'];
  try {
    h.expectStatus(await h.api('PUT', `/namespaces/_/actions/la`, Object.assign({ body: { exec: h.nodeAction(ECHO) } }, opts)), 200);
    h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${tn}`, Object.assign({ body: {} }, opts)), 200);
    for (const r of rules) {
      h.expectStatus(await h.api('PUT', `/namespaces/_/rules/${r}`, Object.assign({ body: { trigger: `/_/${tn}`, action: '/_/la' } }, opts)), 200);
    }
    const res = await h.api('POST', `/namespaces/_/triggers/${tn}`, Object.assign({ body: { n: 1 } }, opts));
    h.expectStatus(res, 202);
    const trec = await pollAs(res.json.activationId, opts);
    const logs = parseLogs(trec);
    assert.equal(logs.length, 3, JSON.stringify(trec.logs));
    const ok = logs.filter((l) => l.success === true && l.statusCode === 0 && /^[0-9a-f]{32}$/.test(l.activationId));
    const refused = logs.filter((l) => l.success === false);
    assert.equal(ok.length, 2, JSON.stringify(trec.logs));
    assert.equal(refused.length, 1, JSON.stringify(trec.logs));
    assert.equal(refused[0].statusCode, 1, JSON.stringify(refused[0]));
    assert.match(refused[0].error, /Too many requests/, JSON.stringify(refused[0]));
    assert.equal(refused[0].activationId, undefined, JSON.stringify(refused[0]));
    for (const l of ok) {
      const arec = await pollAs(l.activationId, opts);
      assert.deepEqual(arec.response.result, { n: 1 }, JSON.stringify(arec));
    }
  } finally {
    for (const r of rules) await h.api('DELETE', `/namespaces/_/rules/${r}`, opts).catch(() => {});
    await h.api('DELETE', `/namespaces/_/triggers/${tn}`, opts).catch(() => {});
    await h.api('DELETE', `/namespaces/_/actions/la`, opts).catch(() => {});
    try { ns.run('user', 'delete', ns.subject); } catch { /* best effort */ }
  }
});

test('trigger parameters updated: the next fire uses them', async (t) => {
  if (!supported) return t.skip(why);
  const res = await h.api('PUT', `${T(gtrigger)}`, { body: { parameters: [{ key: 'v', value: 1 }] } });
  h.expectStatus(res, 200);
  await putRule(h.uniqueName('trg_rg'), gtrigger, action);
  const f1 = await fire(gtrigger, {});
  h.expectStatus(f1, 202);
  h.expectStatus(await h.api('PUT', `${T(gtrigger)}?overwrite=true`, { body: { parameters: [{ key: 'v', value: 2 }] } }), 200);
  const f2 = await fire(gtrigger, {});
  h.expectStatus(f2, 202);
  // the rule's action gets the trigger's parameters; the trigger's record keeps the payload
  const ruleResult = async (f) => {
    const trec = await record(f.json.activationId);
    assert.deepEqual(trec.response.result, {}, JSON.stringify(trec));
    return (await record(parseLogs(trec)[0].activationId)).response.result;
  };
  assert.deepEqual(await ruleResult(f1), { v: 1 });
  assert.deepEqual(await ruleResult(f2), { v: 2 });
  await h.api('DELETE', R(h.uniqueName('trg_rg'))).catch(() => {});
});
