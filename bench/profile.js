'use strict';

/**
 * Where a request's time goes: runs the built server under `node --cpu-prof`, drives it with
 * the benchmark's own load for a few seconds, stops it, and prints the CPU profile's self time
 * by package and by function, counting only the samples taken while the load ran (start-up and
 * shutdown are left out).
 *
 *   npm run build && node bench/profile.js [--adapter=fastify] [--method=GET|PUT|TXN]
 *     [--connections=50] [--seconds=5] [--top=25] [--entry=dist/main.js] [--keep=<dir>]
 *
 * Environment variables other than PORT, HOST and LOG_LEVEL pass through to the server (e.g.
 * STORAGE=file, METRICS_ENABLED=false). The profiler slows the server down: compare shares of
 * time between profiles, not req/s with the benchmark. TXN is txn-c50's transaction (2 compares,
 * 2 puts, POST /txn).
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { getWorkload, putWorkload, runLoad } = require('./load');
const { keyName, valueFor } = require('./keys');
const { preload } = require('./preload');
const { serverNode } = require('./server-node');
const { txnWorkload } = require('./scenarios/txn');

const KEYS = 10000;
const WORKLOADS = { GET: getWorkload, PUT: putWorkload, TXN: txnWorkload };
const ROUTES = { GET: 'GET /key/{key}', PUT: 'PUT /key/{key}', TXN: 'POST /txn' };
const LISTENING = /listening on http:\/\/[^:]+:(\d+)/;

function parseArgs(argv) {
  const options = {
    adapter: 'fastify',
    method: 'GET',
    connections: 50,
    seconds: 5,
    top: 25,
    entry: path.join(__dirname, '..', 'dist', 'main.js'),
    keep: null,
  };
  for (const arg of argv) {
    const match = /^--(\w+)=(.*)$/.exec(arg);
    if (!match || !(match[1] in options)) throw new Error(`unknown option ${arg}`);
    const [, name, value] = match;
    options[name] = typeof options[name] === 'number' ? Number(value) : value;
  }
  options.method = options.method.toUpperCase();
  if (!(options.method in WORKLOADS)) throw new Error('--method must be GET, PUT or TXN');
  return options;
}

/** The server's clock and the profile's share one monotonic base (microseconds). */
const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const profileDir = options.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kv-profile-'));
  fs.mkdirSync(profileDir, { recursive: true });
  const server = await startProfiled(options, profileDir);
  let window;
  try {
    await preload({
      port: server.port,
      from: 0,
      to: KEYS,
      path: (i) => `/key/${keyName(i)}`,
      body: valueFor,
    });
    const workload = WORKLOADS[options.method](KEYS);
    const url = `http://127.0.0.1:${server.port}`;
    // A second of warm-up, so that the profile shows optimised code rather than the JIT at work.
    await runLoad({ url, connections: options.connections, durationSec: 1, workload });
    const started = nowMicros();
    const run = await runLoad({
      url,
      connections: options.connections,
      durationSec: options.seconds,
      workload,
    });
    window = { started, ended: nowMicros(), rps: run.rps };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  const file = fs.readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the server wrote no profile into ${profileDir}`);
  const profile = JSON.parse(fs.readFileSync(path.join(profileDir, file), 'utf8'));
  const summary = summarise(profile, window.started, window.ended);
  console.log(
    `${ROUTES[options.method]}, ${options.connections} connections, ${options.seconds} s, ` +
      `HTTP_ADAPTER=${options.adapter}, Node ${serverNode().shown}: ${Math.round(window.rps)} req/s under the profiler; ` +
      `${summary.sampledMs.toFixed(0)} ms sampled in the load window`,
  );
  printShares('self time by package', summary.byPackage, options.top);
  printShares('self time by function', summary.byFunction, options.top);
  if (options.keep) console.log(`\nprofile kept in ${path.join(profileDir, file)}`);
  else fs.rmSync(profileDir, { recursive: true, force: true });
}

function startProfiled(options, profileDir) {
  const child = spawn(
    serverNode().path,
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, options.entry],
    {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        HTTP_ADAPTER: options.adapter,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = LISTENING.exec(output);
      if (match) resolve({ child, exited, port: Number(match[1]) });
    });
    exited.then((code) =>
      reject(new Error(`server exited (${code}) before listening:\n${output}`)),
    );
  });
}

/** Self time of the samples taken between two instants, by package and by function. */
function summarise(profile, fromMicros, toMicros) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPackage = new Map();
  const byFunction = new Map();
  let at = profile.startTime;
  let sampled = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    const spent = profile.timeDeltas[i + 1] ?? 0;
    if (at < fromMicros || at > toMicros) continue;
    sampled += spent;
    const { callFrame } = nodes.get(profile.samples[i]);
    const where = packageOf(callFrame.url) ?? callFrame.functionName;
    add(byPackage, where, spent);
    const file = callFrame.url ? ` ${callFrame.url.split('/').slice(-2).join('/')}` : '';
    add(byFunction, `${callFrame.functionName || '(anonymous)'}${file}`, spent);
  }
  return { sampledMs: sampled / 1000, byPackage, byFunction, sampled };
}

/** `@nestjs/core`, `node:_http_server`, `kvstore: keys/`, or null for V8's own entries. */
function packageOf(url) {
  if (!url) return null;
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return `kvstore: ${url.slice(dist + '/dist/'.length).split('/')[0]}/`;
  return url;
}

function add(map, key, value) {
  map.set(key, (map.get(key) ?? 0) + value);
}

function printShares(title, shares, top) {
  const total = [...shares.values()].reduce((sum, value) => sum + value, 0);
  console.log(`\n${title}`);
  for (const [name, value] of [...shares].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((value / total) * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
