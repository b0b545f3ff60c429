// The console (/console) in a real browser: Debian's chromium driven by puppeteer-core,
// headless, against the test stack. A bad key is refused; with the guest key the page shows
// activations as they are stored (with their status colour), opens one (record, result,
// logs), follows an action's logs while it runs, invokes with JSON parameters, fires a
// trigger and shows the entity list change live. A screenshot is kept in the build dir.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../harness/squall.js');

const puppeteer = h.dep('puppeteer-core');

const [ACT, SLOW, TRIG, RULE, NEW] = h.uniqueNames('console_act', 'console_slow', 'console_trig',
  'console_rule', 'console_new');
const CHROMIUM = process.env.SQ_CHROMIUM || '/usr/bin/chromium';

let browser = null;
let page = null;
let profile = null;
let restId = null; // the REST invoke of ACT: the keyboard test opens its record
const consoleErrors = [];

function artifactDir() {
  const env = h.stackEnv();
  const dir = path.join(env.vars.SQ_BUILD_DIR || path.join(h.ROOT, 'build'), 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function textOf(sel) {
  return page.$eval(sel, (e) => e.textContent);
}

async function waitText(sel, re, timeout = 15000) {
  await page.waitForFunction((s, src) => {
    const e = document.querySelector(s);
    return e && new RegExp(src).test(e.textContent);
  }, { timeout }, sel, re.source);
  return textOf(sel);
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `no ${CHROMIUM}: the chromium package is needed (ops/squall installs it)`);
  await h.putAction(ACT, h.nodeAction("function main(p) { console.log('hello from', p.who); return { greeting: 'hi ' + p.who }; }"));
  await h.putAction(SLOW, h.nodeAction(
    "async function main() { console.log('tick 1'); await new Promise(r => setTimeout(r, 1500)); console.error('tick 2'); return {}; }"));
  h.expectStatus(await h.api('PUT', `/namespaces/_/triggers/${TRIG}`, { body: {} }), 200);
  h.expectStatus(await h.api('PUT', `/namespaces/_/rules/${RULE}`, { body: { trigger: `/_/${TRIG}`, action: `/_/${ACT}` } }), 200);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--window-size=1440,900'],
    defaultViewport: { width: 1440, height: 900 },
  });
  page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // the page must only talk to the stack (loopback)
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== '127.0.0.1') r.abort();
    else r.continue();
  });
});

after(async () => {
  if (page) {
    try {
      await page.screenshot({ path: path.join(artifactDir(), 'console-final.png'), fullPage: true });
    } catch {}
  }
  if (browser) await browser.close().catch(() => {});
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  await h.api('DELETE', `/namespaces/_/rules/${RULE}`).catch(() => {});
  await h.api('DELETE', `/namespaces/_/triggers/${TRIG}`).catch(() => {});
  for (const a of [ACT, SLOW, NEW]) await h.deleteAction(a).catch(() => {});
  await h.closeNats();
});

test('the page loads from the gateway without any external resource', async () => {
  const env = h.stackEnv();
  const res = await page.goto(`${env.apiHost}/console`, { waitUntil: 'domcontentloaded' });
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /text\/html/);
  assert.match(res.headers()['content-security-policy'] || '', /default-src 'self'/);
  await page.waitForSelector('#login:not([hidden])');
  const external = await page.$$eval('script[src], link[href]', (els) =>
    els.map((e) => e.src || e.href).filter((u) => !u.startsWith(location.origin)));
  assert.deepEqual(external, []);
  const missing = await h.api('GET', '/../console/nope.js'.replace('/..', ''), {}).catch(() => null);
  void missing;
  const nf = await fetch(`${env.apiHost}/console/nope.js`);
  assert.equal(nf.status, 404);
});

test('a bad key is refused and the login form says so', async () => {
  const env = h.stackEnv();
  await page.type('#key', env.key.split(':')[0] + ':' + 'z'.repeat(64));
  await page.click('#connect');
  await waitText('#login-error', /refused/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('squall.key')), null);
});

test('with the key: live, namespaces shown, key kept in sessionStorage only', async () => {
  const env = h.stackEnv();
  await page.type('#key', env.key);
  await page.keyboard.press('Enter');
  await waitText('#conn-text', /live/);
  assert.match(await textOf('#ns'), /guest/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('squall.key')), env.key);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.equal(await page.$eval('#key', (e) => e.value), '', 'the key stays in the input');
});

test('invoke with JSON parameters shows the result; the activation arrives live with its status colour', async () => {
  await page.click('#inv-action', { clickCount: 3 });
  await page.type('#inv-action', ACT);
  await page.$eval('#inv-params', (e) => { e.value = ''; });
  await page.type('#inv-params', '{"who": "chromium"}');
  await page.focus('#inv-params');
  await page.keyboard.down('Control');
  await page.keyboard.press('Enter');
  await page.keyboard.up('Control');
  const out = await waitText('#inv-out', /hi chromium/);
  assert.match(out, /success/);
  // a REST invoke too: it shows up without reloading
  const r = await h.invoke(ACT, { who: 'rest' });
  h.expectStatus(r, 200);
  const id = r.json.activationId;
  restId = id;
  await page.waitForSelector(`tr[data-id="${id}"]`, { timeout: 15000 });
  const row = await page.$eval(`tr[data-id="${id}"]`, (tr) => ({
    cells: [...tr.children].map((td) => td.textContent),
    badge: tr.querySelector('.badge').className,
    color: getComputedStyle(tr.querySelector('.badge')).color,
  }));
  assert.equal(row.cells[0], ACT);
  assert.equal(row.cells[1], 'success');
  assert.match(row.cells[2], /\d+ (ms|s)/);
  assert.match(row.cells[3], /\d\d:\d\d:\d\d\.\d{3}/);
  assert.match(row.badge, /status-success/);
  assert.equal(row.color, 'rgb(63, 207, 142)', 'success is green');
  // a failing one gets another colour
  const bad = h.uniqueName('console_bad');
  await h.putAction(bad, h.nodeAction("function main() { return { error: 'nope' }; }"));
  const rb = await h.invoke(bad, {});
  await page.waitForSelector(`tr[data-id="${rb.json.activationId}"] .status-application-error`, { timeout: 15000 });
  await h.deleteAction(bad);
});

test('keyboard: j/k select, Enter opens the record with result and logs, Esc closes', async () => {
  await page.click('body');
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  const sel = await page.$eval('tr.selected', (tr) => tr.dataset.id);
  assert.ok(sel);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail:not([hidden])');
  await waitText('#detail-record', /activationId/);
  // open the REST invoke's row by clicking it: result and logs. By its id: the
  // namespace is shared with the tests before, whose late records may arrive live
  // above it.
  assert.ok(restId, 'the invoke test ran first');
  // a DOM click, not a mouse one at coordinates: a row arriving meanwhile moves the rest down
  await page.$eval(`tr[data-id="${restId}"]`, (tr) => tr.click());
  await waitText('#detail-result', /greeting/);
  const logs = await waitText('#detail-logs', /hello from/);
  assert.match(logs, /hello from/);
  await page.screenshot({ path: path.join(artifactDir(), 'console.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail[hidden]');
  // the filter: '/' focuses it
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'act-filter');
  await page.type('#act-filter', 'no-such-name');
  const shown = await page.$$eval('#act-body tr', (trs) => trs.filter((t) => !t.hidden).length);
  assert.equal(shown, 0);
  await page.$eval('#act-filter', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });
  await page.keyboard.press('Escape');
});

test('follow an action\'s logs while it runs', async () => {
  await page.click('#follow-action', { clickCount: 3 });
  await page.type('#follow-action', SLOW);
  await page.click('#follow-go');
  await waitText('#follow-out', /following/);
  const t0 = Date.now();
  const inv = h.invoke(SLOW, {});
  await waitText('#follow-out', /tick 1/);
  const firstAt = Date.now();
  const r = await inv;
  h.expectStatus(r, 200);
  assert.ok(Date.now() - firstAt >= 800, `the first line showed ${Date.now() - firstAt} ms before the end (t0 +${firstAt - t0})`);
  await waitText('#follow-out', /tick 2[\s\S]*ended/);
  const stderrCls = await page.$$eval('#follow-out .stderr', (els) => els.map((e) => e.textContent));
  assert.ok(stderrCls.includes('tick 2'), JSON.stringify(stderrCls));
});

test('fire a trigger: its rule runs the action', async () => {
  await page.click('#fire-trigger', { clickCount: 3 });
  await page.type('#fire-trigger', TRIG);
  await page.$eval('#fire-params', (e) => { e.value = '{"who": "trigger"}'; });
  await page.click('#fire-go');
  const out = await waitText('#fire-out', /activationId/);
  assert.match(out, /[0-9a-f]{32}/);
  // the rule's activation of ACT arrives (it greets "trigger")
  const list = async () => (await h.api('GET', `/namespaces/_/activations?name=${ACT}&limit=5&docs=true`)).json || [];
  let rec = null;
  for (let i = 0; i < 100 && !rec; i++) {
    rec = (await list()).find((a) => a.response && a.response.result && a.response.result.greeting === 'hi trigger');
    if (!rec) await h.sleep(100);
  }
  assert.ok(rec, 'the rule did not run the action');
  await page.waitForSelector(`tr[data-id="${rec.activationId}"]`, { timeout: 15000 });
  // bad JSON is refused in the page, nothing is sent
  await page.$eval('#fire-params', (e) => { e.value = '{nope'; });
  await page.click('#fire-go');
  await waitText('#fire-out', /Parameters/);
});

test('the entity list changes live', async () => {
  assert.ok(await page.$(`#entities li[data-name="${ACT}"]`), 'the action is listed');
  await h.putAction(NEW, h.nodeAction('function main() { return {}; }'));
  await page.waitForSelector(`#entities li[data-name="${NEW}"]`, { timeout: 10000 });
  h.expectStatus(await h.deleteAction(NEW), 200);
  await page.waitForFunction((n) => !document.querySelector(`#entities li[data-name="${n}"]`), { timeout: 10000 }, NEW);
  assert.deepEqual(consoleErrors.filter((e) => !/WebSocket|401|Failed to load resource/.test(e)), [], 'errors in the page');
});
