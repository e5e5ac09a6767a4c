'use strict';

/**
 * Starting, waiting for, measuring and stopping the servers under test.
 *
 * Every child and every temporary DATA_DIR is registered here, and removed on every way out of
 * the harness (normal end, thrown error, SIGINT/SIGTERM); parent-guard.js covers SIGKILL.
 */

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { serverNode } = require('./server-node');

const PARENT_GUARD = path.join(__dirname, 'parent-guard.js');
/** Only loopback: the benchmark never sends traffic anywhere else. */
const HOST = '127.0.0.1';
/**
 * Variables the harness sets itself; inherited values would silently change what is measured.
 * AUTH_TOKEN(_FILE) too: the harness sends no bearer token, so a token exported in the shell
 * would turn every request into a 401. PREFILL_KEYS and PREFILL_EXPIRES_AT are the reference
 * server's: exported in the shell they would fill the ceiling with keys. METRICS_ENABLED: every
 * kvstore runs with its default (metrics on) unless a scenario (metrics-cost) sets it. Any other
 * variable passes through to kvstore.
 */
const OWNED_ENV = [
  'PORT',
  'HOST',
  'STORAGE',
  'DATA_DIR',
  'FSYNC',
  'HTTP_ADAPTER',
  'LOG_LEVEL',
  'COMPACT_MIN_BYTES',
  'AUTH_TOKEN',
  'AUTH_TOKEN_FILE',
  'PREFILL_KEYS',
  'PREFILL_EXPIRES_AT',
  'METRICS_ENABLED',
];
const OUTPUT_TAIL_BYTES = 16 * 1024;
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

const liveChildren = new Set();
const tempDirs = new Set();
/** --pin: the CPU every server is started on (the harness keeps the others), or null. */
let serverCpu = null;

/**
 * Puts the harness on every CPU but the last and each server started from now on the last one
 * (taskset, Linux): a server then never waits for the CPU the load generator is using, nor the
 * load generator for the server's, so a server's req/s is what one core gives it.
 */
function pinServers() {
  const cpus = os.availableParallelism();
  if (cpus < 2) throw new Error('--pin needs at least two CPUs');
  serverCpu = cpus - 1;
  const pinned = spawnSync('taskset', [
    '-a',
    '-p',
    '-c',
    `0-${serverCpu - 1}`,
    String(process.pid),
  ]);
  if (pinned.error || pinned.status !== 0) {
    throw new Error(
      `--pin: taskset failed (${pinned.error?.message ?? pinned.stderr}); is util-linux installed?`,
    );
  }
  return serverCpu;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port that was free a moment ago: the kernel picks it, we release it for the server. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function makeTempDir(label) {
  const dir = fs.mkdtempSync(
    path.join(os.tmpdir(), `kvstore-bench-${label.replace(/[^a-z0-9]+/gi, '-')}-`),
  );
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** One HTTP request with no connection reuse, for probes and checks (never for load). */
function httpRequest(port, { method = 'GET', path: urlPath, body, timeoutMs = 2000 }) {
  return new Promise((resolve, reject) => {
    const headers =
      body === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const req = http.request(
      { host: HOST, port, method, path: urlPath, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Resident memory of a process in MB, from /proc (Linux); null where that is unavailable. */
function rssMb(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds a process has used so far, every thread (JavaScript, GC, compiler, libuv) in user
 * and kernel mode, from /proc (Linux; its clock ticks are USER_HZ, 100 a second); null elsewhere.
 */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Bytes under a directory, recursively (the on-disk size of a file store). */
function dirBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(full);
    else if (entry.isFile()) {
      try {
        total += fs.statSync(full).size;
      } catch {
        // Removed between readdir and stat (a compaction renaming files): not counted.
      }
    }
  }
  return total;
}

/**
 * Spawns a server and resolves once it answers GET /health with 200 (or, for a server without
 * /health, GET /keys). Rejects with the tail of its output if it exits or never becomes ready.
 *
 * @param {object} spec
 * @param {string} spec.label     name used in the report and in errors
 * @param {string} spec.entry     the script to run (dist/main.js or bench/reference-server.js)
 * @param {object} [spec.env]     settings for this server (STORAGE, FSYNC, ...)
 * @param {string} [spec.dataDir] DATA_DIR to use; a fresh temporary one when omitted
 * @param {string} [spec.seedDir] copied into the fresh DATA_DIR before the spawn (not timed), so
 *   that a generated data directory can serve several servers and stay as generated
 * @param {number} [spec.readyTimeoutMs]
 * @param {boolean} [spec.drainStdout] read stdout and count its bytes without keeping them
 * @param {string[]} [spec.wrapper] a command that runs the server's node (valgrind), same pid
 * @param {{path: string}} [spec.node] the Node binary (default: the project's, serverNode())
 */
async function startServer(spec) {
  const port = await freePort();
  const dataDir = spec.dataDir || makeTempDir(spec.label);
  if (spec.seedDir) fs.cpSync(spec.seedDir, dataDir, { recursive: true });
  const env = { ...process.env };
  for (const name of OWNED_ENV) delete env[name];
  Object.assign(
    env,
    { PORT: String(port), HOST, DATA_DIR: dataDir, BENCH_PARENT_PID: String(process.pid) },
    spec.env,
  );
  for (const [name, value] of Object.entries(env))
    if (value === undefined || value === null) delete env[name];

  const spawnedAt = performance.now();
  // `node` directly (not npm) so that child.pid is the server itself: RSS and signals reach it.
  const [command, ...args] = [
    ...(serverCpu === null ? [] : ['taskset', '-c', String(serverCpu)]),
    ...(spec.wrapper || []),
    (spec.node || serverNode()).path,
    '-r',
    PARENT_GUARD,
    spec.entry,
  ];
  const child = spawn(command, args, {
    env,
    cwd: spec.cwd || process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  // Keep only the tail of the output; reading it is also what stops a chatty server from
  // blocking on a full pipe.
  let tail = '';
  const keepTail = (chunk) => {
    // Colour codes out: the tail ends up in error messages and the JSON results.
    tail = (tail + chunk.toString('utf8').replace(ANSI_ESCAPE, '')).slice(-OUTPUT_TAIL_BYTES);
  };
  // A server that logs every request (the teaching store) has its stdout drained and counted,
  // not kept: decoding megabytes of log lines would take CPU from the load generator.
  let stdoutBytes = 0;
  if (spec.drainStdout) child.stdout.on('data', (chunk) => (stdoutBytes += chunk.length));
  else child.stdout.on('data', keepTail);
  child.stderr.on('data', keepTail);

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      liveChildren.delete(child);
      resolve(exited);
    });
    child.on('error', (error) => {
      exited = { code: null, signal: null, error };
      liveChildren.delete(child);
      resolve(exited);
    });
  });

  const server = {
    label: spec.label,
    entry: spec.entry,
    env: spec.env || {},
    port,
    url: `http://${HOST}:${port}`,
    dataDir,
    ownsDataDir: !spec.dataDir,
    child,
    pid: child.pid,
    spawnedAt,
    exitPromise,
    outputTail: () => tail,
    stdoutBytes: () => stdoutBytes,
    hasExited: () => exited !== null,
    startMs: null,
    readyPath: null,
  };

  const timeoutMs = spec.readyTimeoutMs || 30000;
  const deadline = spawnedAt + timeoutMs;
  let readyPath = '/health';
  while (performance.now() < deadline) {
    if (exited) {
      const how = exited.error
        ? exited.error.message
        : `exit code ${exited.code}, signal ${exited.signal}`;
      throw new Error(
        `${spec.label} exited before it was ready (${how})${errorLine(tail)}. Output:\n${indent(tail)}`,
      );
    }
    try {
      const res = await httpRequest(port, { path: readyPath, timeoutMs: 1000 });
      if (res.status === 200) {
        server.startMs = performance.now() - spawnedAt;
        server.readyPath = readyPath;
        return server;
      }
      // No /health route: fall back on the key listing, as the contract allows.
      // (limit=1: a full listing of a million keys would be counted as start-up time).
      if (res.status === 404 && readyPath === '/health') readyPath = '/keys?limit=1';
    } catch {
      // Not listening yet (ECONNREFUSED) or still busy loading: try again shortly.
    }
    // A short poll interval keeps the start-up time measurement accurate to ~10 ms.
    await sleep(10);
  }
  await stopServer(server, { timeoutMs: 2000 });
  throw new Error(
    `${spec.label} was not ready after ${timeoutMs} ms (polling ${readyPath}). Output:\n${indent(tail)}`,
  );
}

/**
 * SIGTERM, then SIGKILL if it has not exited within timeoutMs. Resolves with how long the
 * graceful shutdown took. Removes the DATA_DIR if the harness created it.
 */
async function stopServer(server, { timeoutMs = 10000 } = {}) {
  const started = performance.now();
  let forced = false;
  if (!server.hasExited()) {
    server.child.kill('SIGTERM');
    const timedOut = await Promise.race([
      server.exitPromise.then(() => false),
      sleep(timeoutMs).then(() => true),
    ]);
    if (timedOut) {
      forced = true;
      server.child.kill('SIGKILL');
      await server.exitPromise;
    }
  }
  const result = { stopMs: performance.now() - started, forced, exit: await server.exitPromise };
  if (server.ownsDataDir) removeTempDir(server.dataDir);
  return result;
}

/** Last resort on the way out: nothing here may be asynchronous. */
function killAllSync() {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a leftover temp dir must not hide the real error.
    }
  }
  tempDirs.clear();
}

/**
 * Kills every server on the way out. `onInterrupt` (synchronous) runs after the servers are
 * gone when a signal stops the harness, so what was measured so far is not lost.
 */
function installExitHandlers(onInterrupt = () => undefined) {
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal} received, stopping servers\n`);
      killAllSync();
      try {
        onInterrupt(signal);
      } catch (error) {
        process.stderr.write(`bench: could not report partial results: ${error.message}\n`);
      }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Registers a helper process (not a server) so that it is killed on every way out too. */
function trackChild(child) {
  liveChildren.add(child);
  child.on('exit', () => liveChildren.delete(child));
  child.on('error', () => liveChildren.delete(child));
}

function liveChildCount() {
  return liveChildren.size;
}

/** The server's own explanation, for the one-line reason in the table: its last error line. */
function errorLine(output) {
  const lines = output.split('\n').filter((line) => /error/i.test(line) && !/^\s+at /.test(line));
  if (lines.length === 0) return '';
  const last = lines[lines.length - 1].trim();
  // Nest prefixes "[Nest] pid - date ERROR [Context]": keep what follows.
  const message = last.replace(/^\[Nest\].*?ERROR\s+(\[[^\]]*\]\s*)?/, '');
  return `: ${message.slice(0, 200)}`;
}

/** The last 40 lines of a server's output, indented under the error that quotes it. */
function indent(text) {
  return text
    .trim()
    .split('\n')
    .slice(-40)
    .map((line) => `    ${line}`)
    .join('\n');
}

module.exports = {
  pinServers,
  HOST,
  cpuSeconds,
  dirBytes,
  freePort,
  httpRequest,
  installExitHandlers,
  killAllSync,
  liveChildCount,
  makeTempDir,
  removeTempDir,
  rssMb,
  sleep,
  startServer,
  stopServer,
  trackChild,
};
