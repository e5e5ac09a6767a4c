'use strict';

/**
 * kvstore benchmark harness: `npm run bench` (full, < 10 min) or `npm run bench -- --quick`
 * (< 1 min). Starts kvstore (node dist/main.js) and the raw node:http reference server as real
 * processes, drives them over 127.0.0.1 with autocannon, prints a table and writes
 * bench/results/latest.json. Run with --help for the options.
 */

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const report = require('./report');
const { FSYNC_POLICIES, SCENARIOS, firstLine, startPool } = require('./scenarios');
const { otherNode, serverNode } = require('./server-node');
const { installExitHandlers, liveChildCount, pinServers, stopServer } = require('./servers');

const ROOT = path.resolve(__dirname, '..');
const REFERENCE_ENTRY = path.join(__dirname, 'reference-server.js');
const FLOOR_ENTRY = path.join(__dirname, 'nest-floor-server.js');
const TEACHING_ENTRY = path.join(__dirname, 'teaching-store-server.js');
const DEFAULT_ENTRY = path.join(ROOT, 'dist', 'main.js');
const ADAPTERS = ['express', 'fastify'];
const NEST_VERSION = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8'),
).version;

const HELP = `Usage: npm run bench [-- options]      (or: node bench/run.js [options] after npm run build)

  --quick                 GET/PUT c1/c50 in memory and PUT with FSYNC=everysec only, short runs (< 1 min)
  --only=a,b              run only these scenarios (a trailing * matches a prefix: --only=get-*)
  --adapter=A             express | fastify | both (default: both if the server reads HTTP_ADAPTER)
  --keys=N                the "1 million" key count (default 1000000; 250k, 1M and 1e6 work)
  --startup-keys=A,B      key counts the startup scenario loads (default 100k and --keys)
  --floor=on|off          GET/PUT c1/c50 also measure the framework floor, a minimal NestJS app
                          over a Map (bench/nest-floor-server.js), per adapter (default on, but
                          off with --quick, which it would take past a minute; --floor turns it
                          on there; --no-floor = --floor=off)
  --runs=N --duration=S   runs per target and seconds per run (default 3 × 2.5; quick 2 × 1.5,
                          or 2 × 1 when two adapters are measured)
  --warmup=S              unmeasured load per target before a scenario (default 0.5, quick 0.2)
  --log-level=L           LOG_LEVEL given to kvstore (default warn: no per-request logs)
  --out=FILE              JSON results (default bench/results/latest.json)
  --entry=FILE            the kvstore entry point (default dist/main.js)
  --baseline=DIR[,DIR]    also measure an older build: a checkout of another commit with its own
                          npm ci and npm run build done; its dist/main.js runs from DIR (its own
                          node_modules) on the same Node, as a peer in GET/PUT c1/c50, put-file
                          and txn-c50
  --also-node=FILE        also run every GET/PUT c1/c50 server (reference, teaching store, kvstore,
                          baselines, floor) on this Node binary, e.g. /usr/bin/node, interleaved
                          with the same servers on the project's Node; one that cannot start
                          there is left out with a note
  --pin                   every server on the last CPU, the harness and autocannon on the others
                          (taskset): neither waits for the other's CPU, so a server's req/s is
                          what one core gives it, about 1 / its CPU time per answer; for the
                          one-server rows (GET/PUT, txn): followers would share the server's CPU
  --list                  list the scenarios and exit

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)}${s.quick ? '[quick] ' : '        '}${s.about}`).join('\n')}
`;

function parseArgs(argv) {
  const args = {};
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument ${arg} (see --help)`);
    args[match[1]] = match[2] === undefined ? true : match[2];
  }
  const known = [
    'quick',
    'only',
    'adapter',
    'keys',
    'startup-keys',
    'floor',
    'no-floor',
    'runs',
    'duration',
    'warmup',
    'log-level',
    'out',
    'list',
    'help',
    'target',
    'entry',
    'baseline',
    'also-node',
    'pin',
  ];
  for (const name of Object.keys(args))
    if (!known.includes(name)) throw new Error(`unknown option --${name} (see --help)`);
  return args;
}

function parseCount(text, option = 'keys') {
  const match = /^(\d+(?:\.\d+)?)(k|m|e\d+)?$/i.exec(String(text).trim());
  if (!match) throw new Error(`--${option}: not a count: ${text}`);
  const n = Number(match[1]);
  const suffix = (match[2] || '').toLowerCase();
  const value =
    suffix === 'k'
      ? n * 1e3
      : suffix === 'm'
        ? n * 1e6
        : suffix.startsWith('e')
          ? n * 10 ** Number(suffix.slice(1))
          : n;
  if (!Number.isInteger(value) || value < 2000)
    throw new Error(`--${option} must be a whole number of at least 2000 (got ${text})`);
  return value;
}

/**
 * The startup scenario's key counts: the list given, or 100 thousand and --keys (the durable
 * storage issue asks for start-up time and memory at both), ascending and without repeats.
 */
function startupCounts(text, keys) {
  const counts = text
    ? String(text)
        .split(',')
        .filter((part) => part.trim() !== '')
        .map((part) => parseCount(part, 'startup-keys'))
    : [100000, keys].filter((n) => n <= keys);
  if (counts.length === 0) throw new Error('--startup-keys: no count given');
  return [...new Set(counts)].sort((a, b) => a - b);
}

/**
 * --floor, --floor=on|off|true|false|yes|no|1|0, or --no-floor; by default on, except with
 * --quick: two more targets in four scenarios take quick mode from ~50 s to ~70 s.
 */
function floorOption(args, quick) {
  if (args['no-floor'] !== undefined) {
    if (args['no-floor'] !== true) throw new Error('--no-floor takes no value');
    if (args.floor !== undefined) throw new Error('--floor and --no-floor: give one of them');
    return false;
  }
  if (args.floor === undefined) return !quick;
  if (args.floor === true) return true;
  const value = String(args.floor).trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(value)) return true;
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  throw new Error(`--floor must be on or off (got ${args.floor})`);
}

function positive(name, text) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number (got ${text})`);
  return value;
}

function selectScenarios(args) {
  if (!args.only) return SCENARIOS.filter((s) => !args.quick || s.quick);
  const patterns = String(args.only)
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const matches = (name, p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p);
  for (const p of patterns) {
    if (!SCENARIOS.some((s) => matches(s.name, p)))
      throw new Error(
        `--only: no scenario ${p} (have: ${SCENARIOS.map((s) => s.name).join(', ')})`,
      );
  }
  return SCENARIOS.filter((s) => patterns.some((p) => matches(s.name, p)));
}

/** Whether the built server reads HTTP_ADAPTER at all: then both adapters are worth measuring. */
function readsHttpAdapter(entry) {
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'node_modules') walk(path.join(dir, e.name));
      else if (e.isFile() && e.name.endsWith('.js')) files.push(path.join(dir, e.name));
    }
  };
  walk(path.dirname(entry));
  return files.some((file) => fs.readFileSync(file, 'utf8').includes('HTTP_ADAPTER'));
}

function git(dir, args) {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
}

function gitDescription(dir = ROOT) {
  try {
    const head = git(dir, ['rev-parse', '--short', 'HEAD']);
    const dirty = git(dir, ['status', '--porcelain', '--untracked-files=no']);
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/**
 * --baseline=DIR[,DIR]: built checkouts of other commits, each run from its own directory.
 * Named after their commit (`kvstore@3242df3`), or the directory when it is not a git checkout.
 */
function parseBaselines(text) {
  if (text === undefined) return [];
  if (text === true) throw new Error('--baseline needs a directory: --baseline=/tmp/kv-before');
  return String(text)
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const dir = path.resolve(part.trim());
      const entry = path.join(dir, 'dist', 'main.js');
      if (!fs.existsSync(entry))
        throw new Error(
          `--baseline: ${entry} not found: run "npm ci && npm run build" in ${dir} first`,
        );
      if (!fs.existsSync(path.join(dir, 'node_modules')))
        throw new Error(`--baseline: ${dir} has no node_modules: run "npm ci" there first`);
      let commit;
      let subject = '';
      try {
        commit = git(dir, ['rev-parse', '--short', 'HEAD']);
        subject = git(dir, ['log', '-1', '--format=%s']).slice(0, 60);
      } catch {
        commit = path.basename(dir);
      }
      const nest = JSON.parse(
        fs.readFileSync(path.join(dir, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8'),
      ).version;
      return { dir, entry, commit, subject, nest, name: `kvstore@${commit}` };
    });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.list) {
    for (const s of SCENARIOS)
      process.stdout.write(`${s.name.padEnd(14)}${s.quick ? '[quick] ' : '        '}${s.about}\n`);
    return 0;
  }

  const quick = Boolean(args.quick);
  const scenarios = selectScenarios(args);
  const warnings = [];

  // The kvstore slot: the built server, or (hidden, for testing the harness itself before the
  // server exists) the reference server again.
  let kvstoreEntry;
  let target;
  if (args.target === 'reference') {
    kvstoreEntry = REFERENCE_ENTRY;
    target =
      'REFERENCE SERVER IN THE KVSTORE SLOT (--target=reference): harness self-test, not kvstore figures';
    warnings.push(
      '--target=reference: the "kvstore" rows are the reference server; file, startup, expiry and compaction rows are meaningless',
    );
  } else if (args.target !== undefined) {
    throw new Error(`--target: only "reference" is supported (got ${args.target})`);
  } else {
    kvstoreEntry = args.entry ? path.resolve(String(args.entry)) : DEFAULT_ENTRY;
    if (!fs.existsSync(kvstoreEntry)) {
      throw new Error(
        `${path.relative(ROOT, kvstoreEntry)} not found: run "npm run build" first (npm run bench does). To test the harness alone: node bench/run.js --target=reference --quick`,
      );
    }
    target = `node ${path.relative(ROOT, kvstoreEntry)}`;
  }

  let adapters;
  if (args.adapter === undefined) {
    adapters = readsHttpAdapter(kvstoreEntry) ? [...ADAPTERS] : [null];
    if (adapters[0] === null)
      warnings.push('the server does not read HTTP_ADAPTER: measuring its default adapter only');
  } else if (args.adapter === 'both') adapters = [...ADAPTERS];
  else if (ADAPTERS.includes(args.adapter)) adapters = [args.adapter];
  else throw new Error(`--adapter must be express, fastify or both (got ${args.adapter})`);

  const runs = args.runs ? Math.round(positive('runs', args.runs)) : quick ? 2 : 3;
  // Quick mode must stay under a minute including the build: with two adapters there are three
  // targets per scenario, so its runs are cut from 1.5 s to 1 s. The full run must stay under
  // ten minutes too: it makes ~125 runs in all, and at 3 s each it took 10 min 11 s.
  const durationSec = args.duration
    ? positive('duration', args.duration)
    : quick
      ? adapters.length > 1
        ? 1
        : 1.5
      : 2.5;
  const keys = args.keys ? parseCount(args.keys) : 1000000;
  const baselines = parseBaselines(args.baseline);
  if (args['also-node'] === true)
    throw new Error('--also-node needs a file: --also-node=/usr/bin/node');
  const alsoNode = args['also-node'] === undefined ? null : otherNode(String(args['also-node']));
  if (baselines.length > 0 && args.target === 'reference')
    throw new Error('--baseline and --target=reference: give one of them');
  const opts = {
    quick,
    runs,
    durationSec,
    warmupSec: args.warmup !== undefined ? Number(args.warmup) : quick ? 0.2 : 0.5,
    keys,
    startupKeys: startupCounts(args['startup-keys'], keys),
    floor: floorOption(args, quick),
    logLevel: args['log-level'] || 'warn',
  };
  // The floor per measured adapter; a server that does not read HTTP_ADAPTER runs kvstore's
  // default, express.
  const floorAdapters =
    opts.floor && scenarios.some((s) => s.floor)
      ? [...new Set(adapters.map((adapter) => adapter || 'express'))]
      : [];
  const outFile = path.resolve(
    args.out ? String(args.out) : path.join(__dirname, 'results', 'latest.json'),
  );

  const cpus = os.cpus();
  // Other processes competing for the two cores make every figure noisy, ratios included.
  const load = os.loadavg()[0];
  if (load > cpus.length * 0.5) {
    warnings.push(
      `load average ${load.toFixed(1)} on ${cpus.length} CPUs before starting: other processes are competing, figures will be noisy`,
    );
  }
  const meta = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus.length > 0 ? cpus[0].model.trim() : 'unknown',
      memGiB: Math.round(os.totalmem() / 1024 ** 3),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.versions.node,
      loadAverage1m: load,
    },
    serverNode: serverNode().shown,
    alsoNode: alsoNode ? alsoNode.shown : null,
    pinnedCpu: args.pin ? pinServers() : null,
    nest: NEST_VERSION,
    baselines: baselines.map((b) => `${b.name} (${b.dir}, NestJS ${b.nest}): ${b.subject}`),
    commit: gitDescription(),
    target,
    adapters: adapters.map((a) => a || 'server default'),
    logLevel: opts.logLevel,
    autocannon: require('autocannon/package.json').version,
    mode: `${quick ? 'quick' : 'full'}${args.only ? ` --only=${args.only}` : ''}`,
    runs: opts.runs,
    durationSec: opts.durationSec,
    keys: opts.keys,
    startupKeys: opts.startupKeys,
    floor: floorAdapters.map((adapter) => `nest-floor/${adapter}`),
    scenarios: scenarios.map((s) => s.name),
    warnings,
  };
  process.stdout.write(`${report.header(meta)}\n\n`);

  const started = performance.now();
  const log = (message) =>
    process.stderr.write(
      `  [${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`,
    );

  let poolPromise = null;
  const ctx = {
    opts,
    root: ROOT,
    kvstoreEntry,
    referenceEntry: REFERENCE_ENTRY,
    floorEntry: FLOOR_ENTRY,
    teachingEntry: TEACHING_ENTRY,
    baselines,
    otherNode: alsoNode,
    nestVersion: NEST_VERSION,
    kvName: args.target === 'reference' ? 'ref-as-kvstore' : 'kvstore',
    adapters,
    filePolicies: quick ? ['everysec'] : FSYNC_POLICIES,
    log,
    pool: () => {
      // put-file's servers join the pool only if put-file is going to run.
      poolPromise =
        poolPromise ||
        startPool(
          ctx,
          scenarios.some((s) => s.name === 'put-file') ? ctx.filePolicies : [],
          floorAdapters,
        );
      return poolPromise;
    },
  };
  const stopPool = async () => {
    if (!poolPromise) return;
    const pool = await poolPromise.catch(() => null);
    poolPromise = null;
    if (pool) await Promise.all(pool.all().map((server) => stopServer(server)));
  };

  const results = [];
  const finish = (interrupted) => {
    meta.totalSeconds = (performance.now() - started) / 1000;
    if (interrupted)
      meta.interrupted = `${interrupted} after ${results.length} of ${scenarios.length} scenario(s)`;
    process.stdout.write(`${report.table(report.allRows(results))}\n`);
    const notes = report.notes(results);
    if (notes) process.stdout.write(`\n${notes}\n`);
    report.writeJson(outFile, meta, results);
    const done = interrupted
      ? `INTERRUPTED (${meta.interrupted})`
      : `${scenarios.length} scenario(s)`;
    process.stdout.write(
      `\n${done} in ${meta.totalSeconds.toFixed(0)} s; results in ${path.relative(process.cwd(), outFile) || outFile}\n`,
    );
  };
  // Interrupted (Ctrl-C, a CI timeout): the servers are already killed; report what is done.
  onInterrupt = (signal) => {
    if (results.length > 0) finish(signal);
  };
  try {
    for (let i = 0; i < scenarios.length; i += 1) {
      const scenario = scenarios[i];
      const scenarioStarted = performance.now();
      log(`${scenario.name}: ${scenario.about}`);
      let result;
      try {
        const outcome = await scenario.run(ctx);
        result = { status: 'ok', reason: null, ...outcome };
      } catch (error) {
        log(`${scenario.name} failed: ${error.stack || error.message}`);
        result = { rows: [], notes: [], status: 'error', reason: firstLine(error.message) };
      }
      result = {
        name: scenario.name,
        about: scenario.about,
        seconds: (performance.now() - scenarioStarted) / 1000,
        ...result,
      };
      results.push(result);
      // The pool holds memory and background timers: release it once nothing later needs it.
      if (!scenarios.slice(i + 1).some((s) => s.pool)) await stopPool();
    }
  } finally {
    await stopPool();
  }

  onInterrupt = () => undefined;
  finish(null);
  if (liveChildCount() > 0)
    log(`warning: ${liveChildCount()} server(s) still running at the end; killing them`);
  return results.some((r) => r.status === 'error') ? 1 : 0;
}

/** Set by main once there is something to report. */
let onInterrupt = () => undefined;
installExitHandlers((signal) => onInterrupt(signal));
// Exit explicitly: autocannon leaves 10 s request-timeout timers behind that would otherwise keep
// the process alive after the report (stdout is synchronous for files and pipes on Linux).
main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exit(1);
  },
);
