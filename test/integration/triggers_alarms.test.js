// The alarms feed with the official openwhisk npm client: a trigger, a rule, and
// ow.feeds.create of /whisk.system/alarms/alarm (which invokes the feed action with
// lifecycleEvent CREATE, triggerName and authKey, as the CLI does); the trigger then fires on
// its cron ticks (six fields: every 2 seconds), each within 50 ms of the tick, with
// trigger_payload; feeds.delete stops it, and so does deleting the trigger. A malformed cron
// is refused and leaves nothing behind. `once` fires exactly once.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/squall.js');

// SQ_TEST_ALARM_FEED / SQ_TEST_ONCE_FEED: another copy of the feed actions (development)
const FEED = process.env.SQ_TEST_ALARM_FEED || '/whisk.system/alarms/alarm';
const ONCE = process.env.SQ_TEST_ONCE_FEED || '/whisk.system/alarms/once';
const action = h.uniqueName('alm_echo');
const trigger = h.uniqueName('alm_t');
const rule = h.uniqueName('alm_r');
const bad = h.uniqueName('alm_bad');
const once = h.uniqueName('alm_once');
let ow;
let why = '';

function client() {
  const openwhisk = h.dep('openwhisk');
  const env = h.stackEnv();
  return openwhisk({ apihost: env.apiHost, api_key: env.key, namespace: '_' });
}

before(async () => {
  const res = await h.api('PUT', `/namespaces/_/triggers/${trigger}`, { body: {} });
  if (res.status !== 200) {
    why = `the registry does not store triggers yet (${h.show(res)})`;
    return;
  }
  const [, ns, ...rest] = FEED.split('/');
  const feed = await h.api('GET', `/namespaces/${ns}/actions/${rest.map(encodeURIComponent).join('/')}?code=false`);
  if (feed.status !== 200) {
    why = `the feed action ${FEED} is not installed (${h.show(feed)})`;
    return;
  }
  ow = client();
  await h.putAction(action, h.nodeAction('function main(a){return a}'));
  await ow.rules.create({ name: rule, action, trigger });
});

after(async () => {
  if (ow) {
    await ow.feeds.delete({ name: FEED, trigger }).catch(() => {});
    await ow.rules.delete({ name: rule }).catch(() => {});
    for (const t of [trigger, bad, once]) await ow.triggers.delete({ name: t }).catch(() => {});
    await h.deleteAction(action).catch(() => {});
  }
  await h.closeNats();
});

// Records of trigger name started at or after since.
async function firesOf(name, since) {
  const res = await h.api('GET', `/namespaces/_/activations?name=${encodeURIComponent(name)}&since=${since}&limit=50&docs=true`);
  h.expectStatus(res, 200);
  return res.json.filter((r) => r.start >= since);
}

test('alarm feed: fires on every cron tick, within 50 ms, with trigger_payload; feeds.delete stops it', async (t) => {
  if (!ow) return t.skip(why);
  const t0 = Date.now();
  await ow.feeds.create({ name: FEED, trigger, params: { cron: '*/2 * * * * *', trigger_payload: { from: 'alarm' } } });
  const got = await ow.triggers.get({ name: trigger });
  assert.ok((got.annotations || []).some((a) => a.key === 'feed'), `no feed annotation: ${JSON.stringify(got)}`);
  await h.sleep(7000);
  const fires = await firesOf(trigger, t0);
  assert.ok(fires.length >= 2 && fires.length <= 4, `expected 2..4 fires in 7 s, got ${fires.length}: ${fires.map((f) => f.start)}`);
  const starts = fires.map((f) => f.start).sort();
  for (const s of starts) assert.ok(s % 2000 < 50, `a fire ${s % 2000} ms after its tick: ${starts}`);
  assert.equal(new Set(starts.map((s) => Math.floor(s / 1000))).size, starts.length, `a tick fired twice: ${starts}`);
  const rec = fires[0];
  assert.deepEqual(rec.response.result, { from: 'alarm' }, JSON.stringify(rec));
  const log = JSON.parse(rec.logs[0]);
  assert.equal(log.success, true, rec.logs[0]);
  const arec = await h.pollActivation(log.activationId);
  assert.deepEqual(arec.response.result, { from: 'alarm' });

  await ow.feeds.delete({ name: FEED, trigger });
  await h.sleep(500);
  const t1 = Date.now();
  await h.sleep(4500);
  assert.deepEqual(await firesOf(trigger, t1), [], 'the trigger still fires after feeds.delete');
});

test('a malformed cron is refused and nothing is stored', async (t) => {
  if (!ow) return t.skip(why);
  await ow.triggers.create({ name: bad });
  await assert.rejects(ow.feeds.create({ name: FEED, trigger: bad, params: { cron: '61 * * * *' } }),
    (e) => /cron/.test(JSON.stringify(e.error || e.message)), 'feeds.create with a malformed cron');
  const got = await ow.triggers.get({ name: bad });
  assert.ok(!(got.annotations || []).some((a) => a.key === 'alarm' || a.key === 'feed'), `something was stored: ${JSON.stringify(got)}`);
});

test('once: fires exactly once at its date; deleting a trigger removes its timer', async (t) => {
  if (!ow) return t.skip(why);
  await ow.triggers.create({ name: once });
  await ow.rules.create({ name: `${rule}_once`, action, trigger: once });
  const t0 = Date.now();
  const at = new Date(Math.ceil((t0 + 2500) / 1000) * 1000);
  await ow.feeds.create({ name: ONCE, trigger: once, params: { date: at.toISOString(), trigger_payload: { once: true } } });
  await h.sleep(at.getTime() - Date.now() + 2500);
  const fires = await firesOf(once, t0);
  assert.equal(fires.length, 1, `once fired ${fires.length} times`);
  assert.ok(fires[0].start - at.getTime() < 50 && fires[0].start >= at.getTime(), `fired at ${fires[0].start}, due ${at.getTime()}`);
  await ow.rules.delete({ name: `${rule}_once` }).catch(() => {});

  // a cron timer on a trigger that is then deleted: no fire after the delete
  await ow.feeds.create({ name: FEED, trigger: once, params: { cron: '* * * * * *' } });
  await h.sleep(1500);
  await ow.triggers.delete({ name: once });
  await h.sleep(500);
  const t1 = Date.now();
  await h.sleep(2500);
  assert.deepEqual(await firesOf(once, t1), [], 'a deleted trigger still fires');
});
