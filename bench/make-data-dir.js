'use strict';

/**
 * Creates a kvstore DATA_DIR holding keys [0, N) with the benchmark's standard values, without
 * HTTP. Filling a server over HTTP runs at the server's PUT rate (a few thousand per second on
 * two cores), far too slow for a million keys; this drives the built storage engine
 * (dist/storage/file/file-storage.repository.js) directly, so the files are exactly what the
 * server would have written and can never drift from its format.
 *
 * It writes every key with FSYNC=no (durability of the generator itself does not matter; the
 * close syncs the log once), then compacts, so the directory is a snapshot plus an empty log:
 * what a long-running store mostly looks like, and what it loads at start-up.
 *
 *   node bench/make-data-dir.js <dist dir> <new or empty data dir> <keys> [options]
 *     --expires-at=<epoch ms>  every key expires at this absolute time (default: never)
 *     --no-compact             leave the log as written: no snapshot, so the server's first
 *                              compaction copies every key (its threshold is then
 *                              COMPACT_MIN_BYTES alone: COMPACT_RATIO × no snapshot is 0)
 *
 * prints one JSON line of figures on stdout. The harness runs it as a child process
 * (makeDataDir): the million-key table it builds is freed when it exits, and its CPU time does
 * not land in the harness process that later runs autocannon.
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { setImmediate: yieldToEventLoop } = require('node:timers/promises');
const { keyName, valueFor } = require('./keys');
const { serverNode } = require('./server-node');

const PARENT_GUARD = path.join(__dirname, 'parent-guard.js');
/**
 * Writes between turns of the event loop. The writes themselves never wait for I/O (FSYNC=no),
 * so without a turn now and then the data-directory lock's refresh timer could not run, and the
 * store would take the lock as lost after 10 s and refuse writes.
 */
const WRITES_PER_TURN = 10000;

// ---------------------------------------------------------------------------------------------
// The generator (child process)

async function generate(distDir, dataDir, keys, { expiresAt = null, compact = true } = {}) {
  const started = performance.now();
  const { FileStorageRepository } = require(
    path.join(distDir, 'storage', 'file', 'file-storage.repository.js'),
  );
  const { DEFAULT_FILE_STORAGE_OPTIONS } = require(
    path.join(distDir, 'storage', 'file', 'file-storage-options.js'),
  );
  // Into an existing store the keys would be updates on top of whatever it holds.
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0)
    throw new Error(`${dataDir} is not empty`);
  // A key written already expired would be a put the table then hides: not what was asked for.
  if (expiresAt !== null && !(Number.isSafeInteger(expiresAt) && expiresAt > Date.now()))
    throw new Error(`expiresAt must be a future epoch time in ms (got ${expiresAt})`);

  const messages = [];
  const logger = {
    log: (message) => messages.push(message),
    warn: (message) => process.stderr.write(`make-data-dir: warning: ${message}\n`),
    error: (message) => process.stderr.write(`make-data-dir: error: ${message}\n`),
  };
  const repository = new FileStorageRepository(
    {
      ...DEFAULT_FILE_STORAGE_OPTIONS,
      dataDir,
      fsync: 'no',
      // No automatic compaction while filling: it would copy the table over and over; one
      // explicit compaction at the end does it once.
      compactMinBytes: Number.MAX_SAFE_INTEGER,
    },
    { now: () => Date.now() },
    logger,
  );
  await repository.open();
  const opened = performance.now();

  for (let i = 0; i < keys; i += 1) {
    // The canonical JSON text, as the server stores a PUT body (parse, then stringify).
    const value = JSON.stringify(JSON.parse(valueFor(i)));
    const outcome = await repository.write({ op: 'put', key: keyName(i), value, expiresAt });
    if (!outcome.ok) throw new Error(`the store refused the write of ${keyName(i)}`);
    if ((i + 1) % WRITES_PER_TURN === 0) await yieldToEventLoop();
  }
  const written = performance.now();

  // compact() is not part of the StorageRepository port: without it, the log is left as is.
  const compacted = compact && typeof repository.compact === 'function';
  if (compacted) await repository.compact();
  const compactedAt = performance.now();
  await repository.close();
  const closed = performance.now();

  const files = fs
    .readdirSync(dataDir)
    .map((name) => ({ name, bytes: fs.statSync(path.join(dataDir, name)).size }));
  return {
    keys,
    expiresAt,
    compactRequested: compact,
    compacted,
    files,
    bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    openMs: opened - started,
    writeMs: written - opened,
    compactMs: compactedAt - written,
    closeMs: closed - compactedAt,
    totalMs: closed - started,
    engineLog: messages,
  };
}

// ---------------------------------------------------------------------------------------------
// The harness side

/**
 * Runs the generator in a child process; resolves with its figures (see generate) plus
 * `elapsedMs`, the child's whole lifetime including Node's start-up.
 *
 * @param {object} o
 * @param {string} o.distDir  the built server (the directory of dist/main.js)
 * @param {string} o.dir      new or empty directory to fill
 * @param {number} o.keys
 * @param {number|null} [o.expiresAt]  absolute expiry of every key, epoch ms (default: none)
 * @param {boolean} [o.compact]  compact at the end (default true); false leaves the log only
 * @param {(child: import('node:child_process').ChildProcess) => void} [o.track]
 *   registers the child so that the harness kills it on every way out
 */
function makeDataDir(o) {
  const started = performance.now();
  const repositoryFile = path.join(o.distDir, 'storage', 'file', 'file-storage.repository.js');
  if (!fs.existsSync(repositoryFile))
    return Promise.reject(new Error(`${repositoryFile} not found: run "npm run build" first`));
  return new Promise((resolve, reject) => {
    const flags = [];
    if (o.expiresAt !== undefined && o.expiresAt !== null)
      flags.push(`--expires-at=${o.expiresAt}`);
    if (o.compact === false) flags.push('--no-compact');
    // The engine runs on the servers' Node, so that the files are the ones the servers write.
    const child = spawn(
      serverNode().path,
      ['-r', PARENT_GUARD, __filename, o.distDir, o.dir, String(o.keys), ...flags],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (o.track) o.track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-8192)));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        reject(
          new Error(
            `make-data-dir for ${o.keys} keys failed (exit code ${code}, signal ${signal}): ${stderr.trim()}`,
          ),
        );
        return;
      }
      try {
        resolve({ ...JSON.parse(stdout), elapsedMs: performance.now() - started });
      } catch {
        reject(new Error(`make-data-dir printed no result: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/** The command line: three positional arguments, then --expires-at=<ms> and --no-compact. */
function parseCommandLine(argv) {
  const positional = argv.filter((arg) => !arg.startsWith('--'));
  const options = { expiresAt: null, compact: true };
  for (const arg of argv.filter((a) => a.startsWith('--'))) {
    const expires = /^--expires-at=(\d+)$/.exec(arg);
    if (expires) options.expiresAt = Number(expires[1]);
    else if (arg === '--no-compact') options.compact = false;
    else return null;
  }
  const [distDir, dataDir, keys] = positional;
  if (positional.length !== 3 || !/^\d+$/.test(keys)) return null;
  return { distDir, dataDir, keys: Number(keys), options };
}

if (require.main === module) {
  const command = parseCommandLine(process.argv.slice(2));
  if (!command) {
    process.stderr.write(
      'usage: node bench/make-data-dir.js <dist dir> <data dir> <keys> [--expires-at=<epoch ms>] [--no-compact]\n',
    );
    process.exit(2);
  }
  const { distDir, dataDir, keys, options } = command;
  generate(path.resolve(distDir), path.resolve(dataDir), keys, options).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      // Nest's Logger and the lock library may leave timers behind; the work is done.
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`${error.stack || error.message}\n`);
      process.exit(1);
    },
  );
}

module.exports = { makeDataDir };
