/*
 * Squall Node.js runtime: one long-lived process per container speaking our variant of
 * OpenWhisk's actionloop protocol with the invoker (services/invoker/container.c).
 *
 * Run as `/usr/bin/node /runtime/launcher.js` inside the sandbox, with stdin, stdout, stderr
 * and fd 3 as pipes to the invoker. A stem cell starts before its code is known, so the code
 * arrives on stdin:
 *
 *   stdin, first line : {"init":{"code":"...","main":"main","binary":false}}
 *   fd 3 answer       : {"ok":true}  or  {"error":"<message>"}
 *   stdin, then       : one activation per line:
 *                       {"value":{...},"activation_id":"...","action_name":"/ns/name",
 *                        "deadline":"<ms epoch>","namespace":"ns","api_key":"...","api_host":"..."}
 *                       every key but "value" is exported as process.env.__OW_<KEY UPPERCASE>
 *   fd 3 answer       : exactly one line of JSON per activation:
 *                       - what main returned (or what its Promise resolved to), as
 *                         JSON.stringify gives it; `undefined` becomes {} as in OpenWhisk's
 *                         runner. A non-object (42, "s", [..], null) is written as is and the
 *                         invoker reports "The action did not return a dictionary."
 *                       - a rejected Promise is an application error, as in OpenWhisk:
 *                         {"error": <the rejection value, an Error serialised to
 *                         {name,message,stack}, or {} if falsy>}
 *                       - a throw from main (or an uncaught exception / unhandled rejection
 *                         while the activation runs, or a result JSON.stringify cannot
 *                         serialise) is an action developer error and is written with a
 *                         reserved marker key that the invoker strips:
 *                         {"error":"An error has occurred: <String(err)>","__ow_thrown":true}
 *   after every answer (init included): XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n on stdout
 *                       and on stderr, after everything the action logged, so the invoker
 *                       knows the logs are complete.
 *
 * Every write to fds 1, 2 and 3 is synchronous (fs.writeSync): console.* and
 * process.stdout/stderr are replaced by synchronous writers so nothing the action logs can
 * overtake the sentinel. A binary (zip) action is refused for now.
 */
'use strict';

const fs = require('fs');
const util = require('util');
const Module = require('module');
const { Writable } = require('stream');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n';
const RESULT_FD = 3;

/* A blocking pipe takes the whole write at once; EAGAIN can only happen if something set
 * O_NONBLOCK on our end, and then we wait a millisecond and retry rather than lose data. */
const napCell = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd, data) {
  let buf = data;
  if (typeof data === 'string') {
    try {
      const n = fs.writeSync(fd, data);
      if (n >= data.length && n === Buffer.byteLength(data)) return;
      buf = Buffer.from(data).subarray(n);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      buf = Buffer.from(data);
    }
  }
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(napCell, 0, 0, 1);
    }
  }
}

/* Synchronous stand-ins for process.stdout / process.stderr. Using Node's own would open
 * libuv pipe handles (which set O_NONBLOCK and queue writes), and a queued write could reach
 * the pipe after the sentinel. */
function syncStream(fd) {
  const s = new Writable({
    decodeStrings: false,
    write(chunk, enc, cb) {
      try {
        writeAll(fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
      } catch (e) {
        return cb(e);
      }
      cb();
    },
  });
  s.fd = fd;
  s.isTTY = false;
  s._isStdio = true;
  return s;
}
const stdoutStream = syncStream(1);
const stderrStream = syncStream(2);
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: false, get: () => stdoutStream });
Object.defineProperty(process, 'stderr', { configurable: true, enumerable: false, get: () => stderrStream });

const fullConsole = new console.Console({ stdout: stdoutStream, stderr: stderrStream });
const logOut = (...a) => writeAll(1, util.format(...a) + '\n');
const logErr = (...a) => writeAll(2, util.format(...a) + '\n');
fullConsole.log = logOut;
fullConsole.info = logOut;
fullConsole.debug = logOut;
fullConsole.error = logErr;
fullConsole.warn = logErr;
Object.defineProperty(globalThis, 'console', { configurable: true, writable: true, enumerable: false, value: fullConsole });

function endMarkers() {
  writeAll(1, SENTINEL);
  writeAll(2, SENTINEL);
}

function answer(line) {
  writeAll(RESULT_FD, line + '\n');
  endMarkers();
}

function safeString(v) {
  try {
    return String(v);
  } catch (e) {
    return Object.prototype.toString.call(v);
  }
}

function thrownLine(err) {
  return JSON.stringify({ error: 'An error has occurred: ' + safeString(err), __ow_thrown: true });
}

/* OpenWhisk's runner passes a rejection through serialize-error: an Error becomes a plain
 * object of its name, message, stack and own enumerable properties. */
function serializeError(err) {
  if (!err) return {};
  if (err instanceof Error) {
    const o = { name: err.name, message: err.message, stack: err.stack };
    for (const k of Object.keys(err)) o[k] = err[k];
    return o;
  }
  return err;
}

function resultLine(v) {
  if (v === undefined) return '{}';
  let s;
  try {
    s = JSON.stringify(v);
  } catch (e) {
    return thrownLine(e);
  }
  return s === undefined ? 'null' : s;
}

/* ---- init ---- */

let userMain = null;

const IDENT = /^[A-Za-z_$][\w$]*$/;

function loadCode(code, mainName) {
  const filename = '/action/index.js';
  const m = new Module(filename, null);
  m.filename = filename;
  m.paths = Module._nodeModulePaths('/action');
  /* A plain top-level `function main(){}` is local to the module wrapper: the appended line
   * hands it out before the wrapper returns. */
  let src = code;
  if (IDENT.test(mainName)) {
    src += '\n;try { module.__ow_main = (typeof ' + mainName + " === 'function') ? " +
      mainName + ' : undefined; } catch (e) {}\n';
  }
  m._compile(src, filename);
  const ex = m.exports;
  if (ex != null && typeof ex[mainName] === 'function') return ex[mainName];
  if (typeof m.__ow_main === 'function') return m.__ow_main;
  if (typeof globalThis[mainName] === 'function') return globalThis[mainName];
  if (typeof ex === 'function' && mainName === 'main') return ex;
  throw "Action entrypoint '" + mainName + "' is not a function.";
}

function doInit(msg) {
  const init = msg && msg.init;
  if (!init || typeof init !== 'object') {
    answer(JSON.stringify({ error: 'Internal system error: the first message must be an init' }));
    return;
  }
  if (init.binary) {
    answer(JSON.stringify({ error: 'zipped actions are not supported yet' }));
    return;
  }
  if (typeof init.code !== 'string' || typeof init.main !== 'string' || !init.main) {
    answer(JSON.stringify({ error: 'Missing main/no code to execute.' }));
    return;
  }
  try {
    userMain = loadCode(init.code, init.main);
  } catch (e) {
    console.error('Error during initialization:', e);
    const detail = e && e.stack ? String(e.stack) : safeString(e);
    answer(JSON.stringify({ error: 'Initialization has failed due to: ' + detail }));
    return;
  }
  answer('{"ok":true}');
}

/* ---- activations ---- */

let current = 0;      /* sequence number of the running activation, 0 when idle */
let seq = 0;

function finish(id, line) {
  if (current !== id) return;   /* already answered (e.g. by an uncaught exception) */
  current = 0;
  answer(line);
}

/* Settles an activation from a callback, then takes up any message that queued meanwhile. */
function finishLater(id, line) {
  finish(id, line);
  pump();
}

/* Returns true when the activation finished synchronously. */
function doRun(msg) {
  for (const k in msg) {
    if (k !== 'value') process.env['__OW_' + k.toUpperCase()] = msg[k];
  }
  const id = current = ++seq;
  let r;
  try {
    r = userMain(msg.value === undefined ? {} : msg.value);
  } catch (e) {
    console.error(e);
    finish(id, thrownLine(e));
    return true;
  }
  if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
    try {
      r.then((v) => finishLater(id, resultLine(v)),
        (e) => finishLater(id, resultLine({ error: serializeError(e) })));
    } catch (e) {
      finish(id, thrownLine(e));
      return true;
    }
    return current === 0;
  }
  finish(id, resultLine(r));
  return true;
}

function failCurrent(err) {
  if (current === 0) {
    writeAll(2, 'uncaught outside an activation: ' + util.inspect(err) + '\n');
    return;
  }
  console.error(err);
  finish(current, thrownLine(err));
  setImmediate(pump);
}
process.on('uncaughtException', failCurrent);
process.on('unhandledRejection', failCurrent);

/* ---- stdin: one JSON message per line ---- */

const lines = [];
let partial = [];
let initialised = false;

function handle(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    /* Our own peer sent garbage: the protocol is broken, so stop and let the invoker see it. */
    writeAll(2, 'launcher: bad message on stdin: ' + e.message + '\n');
    process.exit(70);
  }
  if (!initialised) {
    initialised = true;
    doInit(msg);
    return true;
  }
  if (!userMain) {
    answer(thrownLine('the action is not initialised'));
    return true;
  }
  return doRun(msg);
}

function pump() {
  while (current === 0 && lines.length > 0) {
    if (!handle(lines.shift())) return;
  }
}

process.stdin.on('data', (chunk) => {
  let start = 0;
  let nl;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    let piece = chunk.subarray(start, nl);
    if (partial.length > 0) {
      partial.push(piece);
      piece = Buffer.concat(partial);
      partial = [];
    }
    lines.push(piece.toString('utf8'));
    start = nl + 1;
  }
  if (start < chunk.length) partial.push(chunk.subarray(start));
  pump();
});
process.stdin.on('end', () => process.exit(0));
