// The invoker's sandbox, seen from inside an action: the platform's environment and files
// are out of reach, /tmp is private, the system is read-only and the action sees only its
// own processes (DESIGN.md, "Runtimes and sandbox").
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../harness/squall.js');

const name = h.uniqueName('sandbox_probe');
const marker = path.join(os.tmpdir(), `squall-sandbox-marker-${process.pid}`);

// The probe reports what it can see; the checks are made here, so a failure shows it all.
const PROBE = `
const fs = require('fs');
function tryRead(p) { try { return fs.readFileSync(p, 'utf8').slice(0, 100); } catch (e) { return null; } }
function tryWrite(p) { try { fs.writeFileSync(p, 'x'); return true; } catch (e) { return false; } }
function tryList(p) { try { return fs.readdirSync(p); } catch (e) { return null; } }
// access(2) only: a probe must not modify the host even if the sandbox is broken
function writable(p) { try { fs.accessSync(p, fs.constants.W_OK); return true; } catch (e) { return false; } }
function main(a) {
  const procs = (tryList('/proc') || []).filter((x) => /^[0-9]+$/.test(x));
  return {
    envNames: Object.keys(process.env),
    guestKey: tryRead(a.stateDir + '/guest.key'),
    stateEnv: tryRead(a.stateDir + '/env'),
    repoLauncher: tryRead(a.repo + '/ops/squall'),
    hostMarker: fs.existsSync(a.marker),
    tmpWrite: tryWrite('/tmp/sandbox-probe-' + process.pid),
    tmpName: '/tmp/sandbox-probe-' + process.pid,
    usrWritable: writable('/usr') || writable('/usr/bin'),
    etcHostsWritable: writable('/etc/hosts'),
    etcFiles: tryList('/etc'),
    procCount: procs.length,
    pid: process.pid,
  };
}`;

let seen;

before(async () => {
  fs.writeFileSync(marker, 'host only');
  await h.putAction(name, h.nodeAction(PROBE));
  const env = h.stackEnv();
  const res = h.expectStatus(await h.invoke(name, { stateDir: env.stateDir, repo: h.ROOT, marker }), 200);
  seen = res.json.response.result;
});

after(async () => {
  fs.rmSync(marker, { force: true });
  await h.deleteAction(name).catch(() => {});
});

test('no platform variables in the action environment', () => {
  const leaked = seen.envNames.filter((k) => /^(SQ_|PG|NATS|DATABASE|ASAN|UBSAN)/.test(k));
  assert.deepEqual(leaked, [], `the action sees platform variables: ${JSON.stringify(seen.envNames)}`);
});

test("the platform's state (guest key, env file) and source tree are out of reach", () => {
  assert.equal(seen.guestKey, null, 'the action can read the guest key file of the state dir');
  assert.equal(seen.stateEnv, null, 'the action can read the env file of the state dir');
  assert.equal(seen.repoLauncher, null, 'the action can read the source tree');
});

test('/tmp is private and writable; the system is read-only', () => {
  assert.equal(seen.hostMarker, false, "the action sees the host's /tmp");
  assert.equal(seen.tmpWrite, true, 'the action cannot write its /tmp');
  assert.equal(fs.existsSync(seen.tmpName), false, "the action's /tmp file appeared in the host's /tmp");
  assert.equal(seen.usrWritable, false, 'the action may write /usr');
  assert.equal(seen.etcHostsWritable, false, 'the action may write /etc/hosts');
  assert.ok(!seen.etcFiles || !seen.etcFiles.includes('shadow'), `the action sees the host's /etc: ${JSON.stringify(seen.etcFiles)}`);
});

test('the action sees only its own processes', () => {
  assert.ok(seen.procCount < 10, `the action sees ${seen.procCount} processes in /proc (pid namespace not private)`);
});
