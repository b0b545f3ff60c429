/*
 * Squall Node.js runtime: one long-lived process per container speaking our variant of
 * OpenWhisk's actionloop protocol with the invoker (services/invoker/container.c).
 *
 * Run as `/usr/bin/node /runtime/launcher.js` inside the sandbox, with stdin, stdout, stderr
 * and fd 3 as pipes to the invoker. A stem cell starts before its code is known, so the code
 * arrives on stdin:
 *
 *   stdin, optionally : {"warm":true} before the init: a stem cell waiting for its code runs
 *                       its init and activation paths once on throwaway input (V8 compiles
 *                       them on first call), answers nothing, keeps nothing
 *   stdin, first line : {"init":{"code":"...","main":"main","binary":false}}
 *                       binary: code is a base64 zip, unpacked into /action (the sandbox's
 *                       private code tmpfs; a temporary directory when unsandboxed); its
 *                       entry is package.json's "main", else index.js
 *                       optional "concurrency": N > 1 and "log_limit": bytes switch to the
 *                       concurrent mode below
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
 * overtake the sentinel.
 *
 * Concurrent mode (init "concurrency" > 1, the action's limits.concurrency): every input line
 * starts its activation at once, without waiting for the running ones. Each activation runs
 * in its own AsyncLocalStorage context, so what it logs (console.*, process.stdout/stderr,
 * in callbacks and promises it started too) is collected for it alone, and its answer is
 * one tagged fd 3 line with its logs inside, no sentinels:
 *     {"activation_id":"...","result":<object or value>,"thrown":true?,
 *      "logs":[[1|2, <ms epoch>, "line"], ...],"truncated":true?}
 * (log text beyond "log_limit" bytes is dropped and "truncated" set). Output from outside
 * any activation goes to fds 1 and 2, where the invoker drops it. The __OW_* variables of
 * process.env are those of the activation that started last (they are process-wide, as in
 * OpenWhisk's own concurrent runtime).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const Module = require('module');
const { Writable } = require('stream');
const { AsyncLocalStorage } = require('async_hooks');

/* Concurrent mode state (see above); als is null in the ordinary mode. */
let als = null;
let logLimit = 10 * 1024 * 1024;

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n';
const RESULT_FD = 3;

/* ---- process.env ----
 * node writes every process.env assignment into the C environment with setenv(3), and glibc
 * keeps every string ever set that way (a caller may still hold one): the __OW_* variables,
 * a new activation id and deadline at every activation, grew a warm container by some 215
 * bytes an activation (64 MB after 300 000; its memory limit is the action's) and made
 * each assignment slower as glibc's tree of them grew (tfind, strcmp: 1.5 % of the whole
 * machine under 32 connections). process.env is now a plain object behind a Proxy that
 * keeps node's rules (values become strings) and passes what the action itself sets or
 * deletes on to the C environment too (so TZ, or a native module's getenv(), see it); the
 * launcher's per-activation variables are set on the object alone (setOwEnv). A child
 * process started without an env of its own gets all of them, as before: child_process
 * reads process.env. */
const cEnv = process.env;
const envValues = Object.assign({}, cEnv);
const envProxy = new Proxy(envValues, {
  set(target, key, value) {
    const v = String(value);
    target[key] = v;
    if (typeof key === 'string') cEnv[key] = v;
    return true;
  },
  deleteProperty(target, key) {
    delete target[key];
    if (typeof key === 'string') delete cEnv[key];
    return true;
  },
});
Object.defineProperty(process, 'env', { configurable: true, enumerable: true, writable: true, value: envProxy });
/* (an action that replaced process.env with an object of its own gets them there) */
function setOwEnv(msg) {
  const env = process.env === envProxy ? envValues : process.env;
  for (const k in msg) {
    if (k !== 'value') env['__OW_' + k.toUpperCase()] = String(msg[k]);
  }
}

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
/* Concurrent mode: text printed inside an activation goes to its log list, line by line. */
function capture(fd, text) {
  const ctx = als ? als.getStore() : undefined;
  if (!ctx) return false;
  const lines = (ctx.part[fd] + text).split('\n');
  ctx.part[fd] = lines.pop();
  for (const l of lines) keepLine(ctx, fd, l);
  return true;
}

function keepLine(ctx, fd, l) {
  if (ctx.truncated) return;
  const n = Buffer.byteLength(l);
  if (ctx.bytes + n > logLimit) {
    ctx.truncated = true;
    return;
  }
  ctx.bytes += n;
  ctx.logs.push([fd, Date.now(), l]);
}

function out(fd, data) {
  if (als && capture(fd, typeof data === 'string' ? data : Buffer.from(data).toString('utf8'))) return;
  writeAll(fd, data);
}

function syncStream(fd) {
  const s = new Writable({
    decodeStrings: false,
    write(chunk, enc, cb) {
      try {
        out(fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk));
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
const logOut = (...a) => out(1, util.format(...a) + '\n');
const logErr = (...a) => out(2, util.format(...a) + '\n');
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

/* The packages the runtime brings, as OpenWhisk's node runtimes do (require('openwhisk')):
 * node_modules beside this launcher (installed from its package.json by ops/squall). */
const RUNTIME_MODULES = [path.join(__dirname, 'node_modules')];
Module.globalPaths.push(RUNTIME_MODULES[0]); /* zipped actions resolve from their own dir first */

const IDENT = /^[A-Za-z_$][\w$]*$/;

function loadCode(code, mainName) {
  const filename = '/action/index.js';
  const m = new Module(filename, null);
  m.filename = filename;
  m.paths = Module._nodeModulePaths('/action').concat(RUNTIME_MODULES);
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

/* ---- zipped actions ---- */

/* Where a zip is unpacked: the sandbox's /action, or a private temporary directory. */
function codeDir() {
  try {
    fs.accessSync('/action', fs.constants.W_OK);
    return '/action';
  } catch (e) {
    return fs.mkdtempSync(path.join(require('os').tmpdir(), 'squall-action-'));
  }
}

/* A minimal zip reader (stored and deflated entries, no zip64): node has zlib but no zip.
 * It runs inside the sandbox, so a hostile archive meets the /action size limit, the memory
 * limit and the init timeout; entries may not leave dest. */
function unzip(buf, dest) {
  const zlib = require('zlib');
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0 && i >= buf.length - 65557; i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('the code is not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const root = path.resolve(dest);
  for (let k = 0; k < count; k++) {
    if (off + 46 > buf.length || buf.readUInt32LE(off) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(off + 10);
    const csize = buf.readUInt32LE(off + 20);
    const usize = buf.readUInt32LE(off + 24);
    const nlen = buf.readUInt16LE(off + 28);
    const xlen = buf.readUInt16LE(off + 30);
    const clen = buf.readUInt16LE(off + 32);
    const attr = buf.readUInt32LE(off + 38);
    const lho = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nlen);
    off += 46 + nlen + xlen + clen;
    const target = path.resolve(root, name);
    if (target !== root && !target.startsWith(root + '/')) throw new Error('zip entry outside the action: ' + name);
    if (name.endsWith('/')) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    if (lho + 30 > buf.length || buf.readUInt32LE(lho) !== 0x04034b50) throw new Error('corrupt zip entry ' + name);
    const start = lho + 30 + buf.readUInt16LE(lho + 26) + buf.readUInt16LE(lho + 28);
    const data = buf.subarray(start, start + csize);
    let content;
    if (method === 0) content = data;
    else if (method === 8) content = zlib.inflateRawSync(data, { maxOutputLength: Math.max(usize, 1) });
    else throw new Error('unsupported zip compression method ' + method + ' for ' + name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const mode = (attr >>> 16) & 0o777;
    fs.writeFileSync(target, content, { mode: mode & 0o100 ? 0o755 : 0o644 });
  }
}

function loadZip(code, mainName) {
  const dir = codeDir();
  unzip(Buffer.from(code, 'base64'), dir);
  let entry = path.join(dir, 'index.js');
  const pj = path.join(dir, 'package.json');
  if (fs.existsSync(pj)) {
    const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
    if (meta && typeof meta.main === 'string' && meta.main) entry = path.resolve(dir, meta.main);
  }
  if (!fs.existsSync(entry) && !fs.existsSync(entry + '.js')) {
    throw "Zipped actions must contain either package.json or index.js at the root.";
  }
  process.chdir(dir);
  const ex = require(entry);
  if (ex != null && typeof ex[mainName] === 'function') return ex[mainName];
  if (typeof ex === 'function' && mainName === 'main') return ex;
  throw "Action entrypoint '" + mainName + "' is not a function.";
}

function doInit(msg) {
  const init = msg && msg.init;
  if (!init || typeof init !== 'object') {
    answer(JSON.stringify({ error: 'Internal system error: the first message must be an init' }));
    return;
  }
  if (typeof init.code !== 'string' || typeof init.main !== 'string' || !init.main) {
    answer(JSON.stringify({ error: 'Missing main/no code to execute.' }));
    return;
  }
  /* parameters annotated init: true (OpenWhisk): environment variables, not arguments */
  if (init.env && typeof init.env === 'object') {
    for (const [k, v] of Object.entries(init.env)) {
      if (typeof v === 'string' && !k.startsWith('__OW_')) process.env[k] = v;
    }
  }
  try {
    userMain = init.binary ? loadZip(init.code, init.main) : loadCode(init.code, init.main);
    if (Number.isInteger(init.concurrency) && init.concurrency > 1) {
      als = new AsyncLocalStorage();
      if (Number.isInteger(init.log_limit) && init.log_limit >= 0) logLimit = init.log_limit;
    }
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

/* ---- concurrent activations ---- */

const running = new Map(); /* activation id -> context */

function concFinish(ctx, result, thrown) {
  if (!running.has(ctx.id)) return;
  running.delete(ctx.id);
  for (const fd of [1, 2]) if (ctx.part[fd]) keepLine(ctx, fd, ctx.part[fd]);
  const o = { activation_id: ctx.id, result, logs: ctx.logs };
  if (thrown) o.thrown = true;
  if (ctx.truncated) o.truncated = true;
  let line;
  try {
    line = JSON.stringify(o);
  } catch (e) {
    line = JSON.stringify({ activation_id: ctx.id, result: { error: 'An error has occurred: ' + safeString(e) }, thrown: true, logs: [] });
  }
  writeAll(RESULT_FD, line + '\n');
}

function concResult(ctx, v) {
  if (v === undefined) return concFinish(ctx, {}, false);
  let ok;
  try {
    ok = JSON.parse(JSON.stringify(v) ?? 'null');
  } catch (e) {
    return concFinish(ctx, { error: 'An error has occurred: ' + safeString(e) }, true);
  }
  concFinish(ctx, ok, false);
}

function concRun(msg) {
  setOwEnv(msg);
  const ctx = { id: String(msg.activation_id), logs: [], bytes: 0, truncated: false, part: { 1: '', 2: '' } };
  running.set(ctx.id, ctx);
  als.run(ctx, () => {
    let r;
    try {
      r = userMain(msg.value === undefined ? {} : msg.value);
    } catch (e) {
      console.error(e);
      return concFinish(ctx, { error: 'An error has occurred: ' + safeString(e) }, true);
    }
    if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
      Promise.resolve(r).then((v) => concResult(ctx, v), (e) => concResult(ctx, { error: serializeError(e) }));
    } else {
      concResult(ctx, r);
    }
  });
}

/* Returns true when the activation finished synchronously. */
function doRun(msg) {
  if (als) {
    concRun(msg);
    return true;
  }
  setOwEnv(msg);
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
  if (als) {
    /* which activation threw cannot be told reliably: all running ones fail */
    const ctx = als.getStore();
    const victims = ctx && running.has(ctx.id) ? [ctx] : [...running.values()];
    for (const v of victims) concFinish(v, { error: 'An error has occurred: ' + safeString(err) }, true);
    if (victims.length === 0) writeAll(2, 'uncaught outside an activation: ' + util.inspect(err) + '\n');
    return;
  }
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

/* ---- warm-up ----
 * A stem cell boots before its code is known, and V8 compiles a function only when it is
 * first called: the first init and the first activation of every new action paid for
 * compiling this launcher's paths and node's module loader. They run once here on
 * throwaway input, while the stem cell waits: nothing is written to the invoker, no module
 * is cached, no environment variable is left set. */
function warmUp() {
  try {
    const init = JSON.parse(JSON.stringify({ init: { code: 'function main(a) { return { ok: true, a }; }', main: 'main', binary: false } })).init;
    const main = loadCode(init.code, init.main);
    const run = JSON.parse(JSON.stringify({ value: { n: 1 }, activation_id: '0'.repeat(32), action_name: '/ns/a', deadline: '0', namespace: 'ns' }));
    for (const k in run) {
      if (k !== 'value') {
        const key = '__OW_WARM_' + k.toUpperCase();
        envValues[key] = String(run[k]);
        delete envValues[key];
      }
    }
    resultLine(main(run.value));
    thrownLine(new Error('warm-up'));
    resultLine({ error: serializeError(new Error('warm-up')) });
    util.format('%s %d %j', 'warm', 1, { up: true });
  } catch (e) {
    /* a warm-up that fails costs the first activation its time, nothing else */
  }
}

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
  if (msg && msg.warm === true && !initialised) {
    /* the invoker's first line to a stem cell: the read path warmed, nothing answered */
    warmUp();
    return true;
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
