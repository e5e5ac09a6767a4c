'use strict';

/**
 * Instructions per request: each server under valgrind's callgrind, its counters zeroed after a
 * warm-up, then a fixed number of requests, then its instruction count (every thread: the main
 * one, the garbage collector's and the compiler's) divided by the answers. Other processes on
 * the machine cannot change the count, but a window of a few thousand requests holds whole
 * garbage collections and background compilations, which fall in one run and not the next: the
 * first runs of 1,000 requests moved by ±50% (bench/README.md). Slow: a server runs about 50
 * times slower under valgrind (Nest takes minutes to start).
 *
 *   npm run build && node bench/instructions.js [--method=GET|PUT] [--requests=3000]
 *     [--connections=50] [--servers=kvstore,teaching-store,reference,nest-floor]
 *     [--adapter=fastify] [--entry=dist/main.js] [--baseline=DIR]
 *
 * --baseline=DIR adds an older build (a checkout with npm ci and npm run build done), run from
 * its own directory, as `baseline`.
 */

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { getWorkload, putWorkload } = require('./load');
const { serverNode } = require('./server-node');
const { HOST, installExitHandlers, startServer, stopServer } = require('./servers');

const KEYS = 1000;
const WARMUP_REQUESTS = 3000;

function parseArgs(argv) {
  const options = {
    method: 'GET',
    requests: 3000,
    connections: 50,
    servers: 'kvstore,teaching-store,reference,nest-floor',
    adapter: 'fastify',
    entry: path.join(__dirname, '..', 'dist', 'main.js'),
    baseline: '',
  };
  for (const arg of argv) {
    const match = /^--(\w+)=(.*)$/.exec(arg);
    if (!match || !(match[1] in options)) throw new Error(`unknown option ${arg}`);
    const [, name, value] = match;
    options[name] = typeof options[name] === 'number' ? Number(value) : value;
  }
  options.method = options.method.toUpperCase();
  if (!['GET', 'PUT'].includes(options.method)) throw new Error('--method must be GET or PUT');
  return options;
}

function specFor(name, options) {
  const kvEnv = { HTTP_ADAPTER: options.adapter, LOG_LEVEL: 'warn', STORAGE: 'memory' };
  switch (name) {
    case 'kvstore':
      return {
        label: `kvstore/${options.adapter}`,
        entry: path.resolve(options.entry),
        env: kvEnv,
      };
    case 'baseline': {
      const dir = path.resolve(options.baseline);
      return {
        label: `baseline/${options.adapter}`,
        entry: path.join(dir, 'dist', 'main.js'),
        cwd: dir,
        env: kvEnv,
      };
    }
    case 'teaching-store':
      return {
        label: name,
        entry: path.join(__dirname, 'teaching-store-server.js'),
        drainStdout: true,
      };
    case 'reference':
      return { label: name, entry: path.join(__dirname, 'reference-server.js') };
    case 'nest-floor':
      return {
        label: `nest-floor/${options.adapter}`,
        entry: path.join(__dirname, 'nest-floor-server.js'),
        env: { HTTP_ADAPTER: options.adapter },
      };
    default:
      throw new Error(`--servers: unknown server ${name}`);
  }
}

/** Exactly `amount` requests of the workload over `connections` connections. */
function fixedLoad(url, connections, amount, workload) {
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        amount,
        timeout: 120,
        requests: [
          {
            setupRequest: (request) => {
              const i = next % workload.keyCount;
              next += 1;
              return {
                ...request,
                method: workload.method,
                path: workload.path(i),
                ...(workload.body ? { body: workload.body(i) } : {}),
              };
            },
          },
        ],
      },
      (error, result) => {
        if (error) reject(error);
        else resolve(result);
      },
    );
  });
}

function callgrind(pid, args) {
  // vgdb names its pipes after $USER and $HOST, and every server runs with HOST=127.0.0.1.
  return execFileSync('callgrind_control', [...args, String(pid)], {
    encoding: 'utf8',
    env: { ...process.env, HOST },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/** The instruction count so far, summed over threads, from `callgrind_control -e`. */
function instructionsSoFar(pid) {
  // "Totals: Ir", then one line per thread: "Th 1  139,148,476". An answer without them (the
  // process was between two checks for commands) is asked again.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const output = callgrind(pid, ['-e', 'Ir']);
    let total = 0;
    for (const match of output.matchAll(/^\s*Th \d+\s+([\d,]+)/gm))
      total += Number(match[1].replace(/,/g, ''));
    if (total > 0) return total;
  }
  throw new Error(`no instruction count from callgrind_control -e for pid ${pid}`);
}

async function measure(name, options, workDir) {
  const spec = specFor(name, options);
  const server = await startServer({
    cwd: process.cwd(),
    ...spec,
    wrapper: [
      'valgrind',
      '--tool=callgrind',
      `--callgrind-out-file=${path.join(workDir, `${name}.%p.out`)}`,
      '--dump-instr=no',
    ],
    readyTimeoutMs: 600_000,
  });
  try {
    // Plain keep-alive requests: the harness's deep pipelines get reset under valgrind.
    await fixedLoad(server.url, 10, KEYS, putWorkload(KEYS));
    const workload = options.method === 'GET' ? getWorkload(KEYS) : putWorkload(KEYS);
    await fixedLoad(server.url, options.connections, WARMUP_REQUESTS, workload);
    callgrind(server.pid, ['-z']);
    const started = performance.now();
    const result = await fixedLoad(server.url, options.connections, options.requests, workload);
    const instructions = instructionsSoFar(server.pid);
    // Answers, not requests sent: a connection error (a timeout under valgrind) answered none.
    // A few 404s (a key whose fill timed out under valgrind) cost about what a 200 does.
    const answered = result['2xx'] + result.non2xx;
    return {
      label: server.label,
      perRequest: instructions / answered,
      answered,
      errors: result.errors,
      non2xx: result.non2xx,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await stopServer(server, { timeoutMs: 60_000 });
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const names = options.servers.split(',').map((name) => name.trim());
  if (options.baseline && !names.includes('baseline')) names.splice(1, 0, 'baseline');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-callgrind-'));
  const results = [];
  try {
    for (const name of names) {
      const result = await measure(name, options, workDir);
      process.stderr.write(
        `${result.label}: ${Math.round(result.perRequest)} instructions/answer over ${result.answered} answers ` +
          `(${result.non2xx} non-2xx, ${result.errors} connection errors) in ${result.seconds.toFixed(0)} s\n`,
      );
      results.push(result);
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  console.log(
    `${options.method} /key/{key}, ${options.connections} connections, ${options.requests} requests after ` +
      `${WARMUP_REQUESTS} of warm-up, ${KEYS} keys; servers on Node ${serverNode().shown} under callgrind`,
  );
  const teaching = results.find((r) => r.label === 'teaching-store');
  for (const result of results) {
    const ratio = teaching
      ? `  ${(result.perRequest / teaching.perRequest).toFixed(2)}× teaching-store`
      : '';
    console.log(
      `${result.label.padEnd(20)} ${Math.round(result.perRequest).toLocaleString('en-US').padStart(10)} instructions/request${ratio}`,
    );
  }
}

installExitHandlers();
main().then(
  () => process.exit(0),
  (error) => {
    console.error(error.message);
    process.exit(1);
  },
);
