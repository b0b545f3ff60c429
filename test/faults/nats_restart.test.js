// nats-server restarted under the services: every service reconnects (as its own NATS user,
// within its permissions) and the platform serves again; the reconnect lines name the
// server without the password, and stack.sh down finds no secret in any log (it fails the
// test otherwise).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const f = require('./faults.js');

const SERVICES = ['auth', 'registry', 'activations', 'triggers', 'invoker', 'scheduler', 'gateway'];

async function restartNats(stack) {
  const pidFile = path.join(stack.state, 'pids', 'nats.pid');
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    try { process.kill(pid, 0); } catch { break; }
    await f.sleep(50);
  }
  await f.sleep(1000); // the services notice, and retry
  const logFd = fs.openSync(path.join(stack.state, 'logs', 'nats.log'), 'a');
  const child = spawn('bash', ['-c', 'echo $$ > "$0"; exec nats-server -c "$1"',
    pidFile, path.join(stack.state, 'nats', 'nats.conf')],
  { detached: true, cwd: '/', stdio: ['ignore', logFd, logFd] });
  child.unref();
  fs.closeSync(logFd);
  f.log(`restarted nats-server (pid ${child.pid})`);
}

test('a restart of nats-server: the services reconnect, no password in the logs', { timeout: 300000 }, async () => {
  let stack, down = null;
  try {
    stack = f.stackUp('nats_restart');
    await f.prepare(stack, 'fault');
    await restartNats(stack);
    await f.waitHealthy(stack, SERVICES, 30000);
    await f.expectServing(stack);
    for (const svc of SERVICES) {
      const log = fs.readFileSync(path.join(stack.state, 'logs', `${svc}.log`), 'utf8');
      const lines = log.split('\n').filter((l) => l.includes('reconnected to NATS at'));
      assert.ok(lines.length > 0, `${svc} logged no reconnection`);
      for (const l of lines) assert.match(l, new RegExp(`"nats://${svc}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+"`), l);
    }
  } finally {
    down = f.stackDown(stack);
  }
  assert.equal(down, 0, 'stack.sh down failed: a secret in a log, or sanitizer findings (see above)');
});
