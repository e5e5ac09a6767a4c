'use strict';

/**
 * The scenarios. Each one starts what it needs, measures, stops what it started, and returns
 * { rows, notes, status, reason } for the report. Throughput figures of kvstore are always
 * ratios to something measured in the same run (the reference server, in-memory PUT, the same
 * server with fewer keys), because absolute numbers on a shared 2-core machine drift.
 */

const fs = require('node:fs');
const path = require('node:path');
const { makeDataDir } = require('./make-data-dir');
const { preload } = require('./preload');
const {
  getWorkload,
  keyName,
  median,
  pacedLoad,
  percentile,
  putWorkload,
  runLoad,
  valueFor,
} = require('./load');
const { fmtBytes, fmtInt, fmtMs } = require('./report');
const {
  dirBytes,
  httpRequest,
  makeTempDir,
  removeTempDir,
  rssMb,
  sleep,
  startServer,
  stopServer,
  trackChild,
} = require('./servers');

/** Keys preloaded for the GET/PUT scenarios. */
const POOL_KEYS = 10000;
/** The "thousand keys" side of put-keys. */
const SMALL_KEYS = 1000;
const FSYNC_POLICIES = ['always', 'everysec', 'no'];
/** Connections for the latency-under-event scenarios: enough to keep the server busy, few
 * enough that a stall shows as itself rather than as queueing. */
const EVENT_CONNECTIONS = 10;
/**
 * Warm-up before the latency-under-event scenarios (at least; --warmup may ask for more). A
 * freshly started kvstore holding a million keys, after half a second of load, still showed a
 * GET p99 of ~27 ms (express) where a warm one shows ~7 ms: the "before" side of the comparison
 * would be mostly warm-up.
 */
const EVENT_WARMUP_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Servers

const kvLabel = (ctx, adapter) => (adapter ? `${ctx.kvName}/${adapter}` : ctx.kvName);

function startKv(ctx, adapter, env = {}, extra = {}) {
  return startServer({
    label: extra.label || kvLabel(ctx, adapter),
    entry: ctx.kvstoreEntry,
    cwd: ctx.root,
    env: {
      LOG_LEVEL: ctx.opts.logLevel,
      STORAGE: 'memory',
      HTTP_ADAPTER: adapter || undefined,
      ...env,
    },
    dataDir: extra.dataDir,
    seedDir: extra.seedDir,
    readyTimeoutMs: extra.readyTimeoutMs,
  });
}

/** The reference server, holding keys [0, prefillKeys) from the start when asked. */
function startReference(ctx, prefillKeys = 0) {
  return startServer({
    label: 'reference',
    entry: ctx.referenceEntry,
    cwd: ctx.root,
    env: prefillKeys > 0 ? { PREFILL_KEYS: String(prefillKeys) } : {},
    readyTimeoutMs: 60000,
  });
}

/**
 * The framework floor (nest-floor-server.js): the minimal NestJS app over a Map, on one adapter.
 */
function startFloor(ctx, adapter) {
  return startServer({
    label: `nest-floor/${adapter}`,
    entry: ctx.floorEntry,
    cwd: ctx.root,
    env: { HTTP_ADAPTER: adapter },
  });
}

/** Starts several servers at once; if any fails, stops the others and rethrows. */
async function startAll(starters) {
  const settled = await Promise.allSettled(starters.map((start) => start()));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(
      settled.filter((s) => s.status === 'fulfilled').map((s) => stopServer(s.value)),
    );
    throw failed.reason;
  }
  return settled.map((s) => s.value);
}

/** Like Promise.allSettled(items.map(task)), with at most `limit` tasks running at once. */
async function settleWithLimit(items, limit, task) {
  const outcomes = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      try {
        outcomes[i] = { status: 'fulfilled', value: await task(items[i]) };
      } catch (reason) {
        outcomes[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}

const stopAll = (servers, options) =>
  Promise.all(servers.map((server) => stopServer(server, options)));

/** Writes keys [from, to) with their standard values over HTTP, within the time budget. */
async function fill(ctx, server, from, to, { budgetMs } = {}) {
  const result = await preload({
    port: server.port,
    from,
    to,
    path: (i) => `/key/${keyName(i)}`,
    body: valueFor,
    budgetMs,
  });
  ctx.log(
    `${server.label}: stored keys ${fmtInt(from)}..${fmtInt(from + result.written)} in ${(result.elapsedMs / 1000).toFixed(1)} s ` +
      `(${fmtInt(result.rate)}/s)${result.complete ? '' : ` — time budget reached before ${fmtInt(to)}`}`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * Measures every target with the same load, interleaved (A B C, A B C, ...) so that drift of
 * the machine (thermal, other tenants) spreads over all of them instead of biasing one; with
 * `alternate`, every other run goes backwards (A B C, C B A, ...), so that a steady drift (a
 * server still warming up) favours neither of two neighbours over the runs.
 * Returns, per target, the median req/s, p50 and p99 over the runs, and RSS after its last run.
 */
async function interleave(
  ctx,
  scenario,
  targets,
  { connections, workloadFor, alternate = false, warmupSec = ctx.opts.warmupSec },
) {
  const { runs, durationSec } = ctx.opts;
  const stats = targets.map(() => ({ runs: [], rssMb: null }));
  if (warmupSec > 0) {
    for (const target of targets) {
      await runLoad({
        url: target.url,
        connections,
        durationSec: warmupSec,
        workload: workloadFor(target),
      });
    }
  }
  for (let r = 0; r < runs; r += 1) {
    const order = targets.map((_, t) => t);
    if (alternate && r % 2 === 1) order.reverse();
    for (const t of order) {
      const target = targets[t];
      const run = await runLoad({
        url: target.url,
        connections,
        durationSec,
        workload: workloadFor(target),
      });
      if (r === runs - 1) stats[t].rssMb = rssMb(target.pid);
      stats[t].runs.push({
        rps: run.rps,
        p50: run.p50,
        p99: run.p99,
        max: run.max,
        total: run.total,
        non2xx: run.non2xx,
        errors: run.errors,
        statusCounts: run.statusCounts,
      });
      ctx.log(
        `[${scenario}] run ${r + 1}/${runs} ${target.label}: ${fmtInt(run.rps)} req/s, p50 ${fmtMs(run.p50)} ms, p99 ${fmtMs(run.p99)} ms` +
          (run.non2xx || run.errors ? ` (${run.non2xx} non-2xx, ${run.errors} errors)` : ''),
      );
      // Let closed connections drain before the next target starts.
      await sleep(100);
    }
  }
  return stats.map((s) => ({
    ...s,
    rps: median(s.runs.map((x) => x.rps)),
    p50: median(s.runs.map((x) => x.p50)),
    p99: median(s.runs.map((x) => x.p99)),
    non2xx: s.runs.reduce((sum, x) => sum + x.non2xx, 0),
    errors: s.runs.reduce((sum, x) => sum + x.errors, 0),
  }));
}

/** A table row for a throughput measurement; `base` is what the ratio is taken against. */
function throughputRow(scenario, target, stat, { base, baseName, detail = [] } = {}) {
  const ratio = base && base.rps ? stat.rps / base.rps : null;
  const problems = [];
  if (stat.non2xx) problems.push(`${fmtInt(stat.non2xx)} non-2xx answers!`);
  if (stat.errors) problems.push(`${fmtInt(stat.errors)} connection errors!`);
  return {
    scenario,
    server: target.label,
    rps: stat.rps,
    p50: stat.p50,
    p99: stat.p99,
    rssMb: stat.rssMb,
    ratio,
    ratioBase: baseName || null,
    ratioText: ratio === null ? baseName || '-' : `${ratio.toFixed(2)}× ${baseName}`,
    detail: [...problems, ...detail].join('; '),
    runs: stat.runs,
  };
}

// ---------------------------------------------------------------------------------------------
// The pool: the reference plus kvstore per adapter in memory, 10,000 keys each, kept running
// across the GET/PUT scenarios, with the framework floor per adapter when a scenario shows it;
// and, when put-file runs, its file-store servers, started and filled at the same time so that
// their start-up and preload overlap with the others'.

/**
 * @param {string[]} filePolicies FSYNC policies put-file will measure (may be empty)
 * @param {string[]} floorAdapters adapters to start nest-floor-server.js on (may be empty)
 * @returns {Promise<{reference, kv: object[], floor: object[], file: Map<string, object>, fileErrors: Map<string, Error>}>}
 */
async function startPool(ctx, filePolicies, floorAdapters = []) {
  // All started at once, so their start-ups overlap. A file server that cannot start fails
  // put-file only, not every scenario that needs the pool.
  const fileSpecs = ctx.adapters.flatMap((adapter) =>
    filePolicies.map((fsync) => ({ adapter, fsync, key: fileKey(adapter, fsync) })),
  );
  const fileStarting = Promise.allSettled(
    fileSpecs.map(({ adapter, fsync }) =>
      startKv(
        ctx,
        adapter,
        { STORAGE: 'file', FSYNC: fsync },
        { label: `${kvLabel(ctx, adapter)} file/${fsync}` },
      ),
    ),
  );
  const memoryStarting = startAll([
    () => startReference(ctx),
    ...ctx.adapters.map((adapter) => () => startKv(ctx, adapter)),
    ...floorAdapters.map((adapter) => () => startFloor(ctx, adapter)),
  ]);
  const [fileStarts, memory] = await Promise.all([
    fileStarting,
    memoryStarting.catch(async (error) => {
      const started = await fileStarting;
      await stopAll(started.filter((f) => f.status === 'fulfilled').map((f) => f.value));
      throw error;
    }),
  ]);
  const file = new Map();
  const fileErrors = new Map();
  fileStarts.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') file.set(fileSpecs[i].key, outcome.value);
    else fileErrors.set(fileSpecs[i].key, outcome.reason);
  });
  const servers = [...memory, ...file.values()];
  for (const server of servers)
    ctx.log(
      `${server.label}: ready in ${fmtMs(server.startMs)} ms (pid ${server.pid}, port ${server.port})`,
    );
  // Two at a time: each server is one busy thread, so two fills use both cores; more only add
  // context switches and GC pressure (nine Nest servers filled at once ran 3x slower in total).
  const fills = await settleWithLimit(servers, 2, (server) => fill(ctx, server, 0, POOL_KEYS));
  const failedMemoryFill = fills.slice(0, memory.length).find((f) => f.status === 'rejected');
  if (failedMemoryFill) {
    await stopAll(servers);
    throw failedMemoryFill.reason;
  }
  [...file.entries()].forEach(([key, server], i) => {
    const outcome = fills[memory.length + i];
    if (outcome.status === 'rejected') {
      fileErrors.set(key, outcome.reason);
      file.delete(key);
      stopServer(server).catch(() => undefined);
    }
  });
  const kvCount = ctx.adapters.length;
  return {
    reference: memory[0],
    kv: memory.slice(1, 1 + kvCount),
    floor: memory.slice(1 + kvCount),
    file,
    fileErrors,
    all: () => [...memory, ...file.values()],
  };
}

const fileKey = (adapter, fsync) => `${adapter || 'default'}/${fsync}`;

/**
 * GET or PUT in memory: the reference, kvstore per adapter and, unless --floor=off, the
 * framework floor per adapter, interleaved. A kvstore row also says how it compares with the
 * floor on its adapter: the part of the distance to the reference that NestJS does not explain.
 */
function memoryScenario(name, connections, makeWorkload) {
  return async (ctx) => {
    const pool = await ctx.pool();
    const targets = [pool.reference, ...pool.kv, ...pool.floor];
    const workload = makeWorkload(POOL_KEYS);
    const stats = await interleave(ctx, name, targets, {
      connections,
      workloadFor: () => workload,
    });
    const ref = stats[0];
    const floorStat = (adapter) => {
      const i = pool.floor.findIndex((f) => f.label === `nest-floor/${adapter || 'express'}`);
      return i === -1 ? null : stats[1 + pool.kv.length + i];
    };
    const rows = [throughputRow(name, pool.reference, ref, { baseName: 'ceiling' })];
    pool.kv.forEach((server, i) => {
      const stat = stats[i + 1];
      const floor = floorStat(ctx.adapters[i]);
      const detail =
        floor && floor.rps
          ? [`${(stat.rps / floor.rps).toFixed(2)}× nest-floor/${ctx.adapters[i] || 'express'}`]
          : [];
      rows.push(throughputRow(name, server, stat, { base: ref, baseName: 'ref', detail }));
    });
    pool.floor.forEach((server, i) => {
      const stat = stats[1 + pool.kv.length + i];
      const detail = ['minimal NestJS app over a Map (bench/nest-floor-server.js)'];
      // Two servers as fast as each other are most likely both waiting on the load generator,
      // which shares the two cores: then the ceiling is autocannon's, not node:http's.
      if (ref.rps && stat.rps >= 0.95 * ref.rps)
        detail.push('as fast as the reference: both probably held back by the load generator');
      rows.push(throughputRow(name, server, stat, { base: ref, baseName: 'ref', detail }));
    });
    return { rows, notes: [] };
  };
}

// ---------------------------------------------------------------------------------------------
// PUT with STORAGE=file under each FSYNC policy, against in-memory PUT in the same run.

async function putFileScenario(ctx) {
  const pool = await ctx.pool();
  const rows = [];
  const notes = [];
  const workload = putWorkload(POOL_KEYS);
  for (let a = 0; a < ctx.adapters.length; a += 1) {
    const adapter = ctx.adapters[a];
    const memory = pool.kv[a];
    const fileServers = [];
    for (const fsync of ctx.filePolicies) {
      const server = pool.file.get(fileKey(adapter, fsync));
      if (server) fileServers.push(server);
      else {
        const error = pool.fileErrors.get(fileKey(adapter, fsync));
        rows.push({
          scenario: 'put-file-c50',
          server: `${kvLabel(ctx, adapter)} file/${fsync}`,
          ratioText: 'error',
          detail: error ? firstLine(error.message) : 'not started',
        });
      }
    }
    if (fileServers.length === 0) continue;
    const targets = [memory, ...fileServers];
    const stats = await interleave(ctx, 'put-file', targets, {
      connections: 50,
      workloadFor: () => workload,
    });
    rows.push(
      throughputRow('put-file-c50', { label: `${memory.label} memory` }, stats[0], {
        baseName: 'base',
      }),
    );
    fileServers.forEach((server, i) => {
      const onDisk = dirBytes(server.dataDir);
      const detail = [`DATA_DIR ${fmtBytes(onDisk)} after the runs`];
      if (onDisk === 0) detail.push('nothing written to DATA_DIR: is STORAGE=file honoured?');
      rows.push(
        throughputRow('put-file-c50', server, stats[i + 1], {
          base: stats[0],
          baseName: 'mem',
          detail,
        }),
      );
    });
  }
  if (ctx.opts.quick)
    notes.push('quick mode measures FSYNC=everysec only; the full run adds always and no');
  const measured = rows.filter((row) => row.ratioText !== 'error');
  if (measured.length === 0) {
    return {
      rows,
      notes,
      status: 'error',
      reason: 'no file-store server could be started (see the rows)',
    };
  }
  return { rows, notes };
}

/** The one-line reason for the table: the first line, without the server output appended. */
function firstLine(text) {
  return String(text)
    .split('\n')[0]
    .replace(/\. Output:$/, '');
}

// ---------------------------------------------------------------------------------------------
// What metrics cost on the hot path: kvstore in memory with METRICS_ENABLED=true (the default)
// and false (no /metrics route, no per-request timing), side by side per adapter.

/**
 * Warm-up per server and workload. A Nest server (and autocannon in the harness) takes seconds
 * of load to reach its speed; half a second left the first runs 30% apart for two identical
 * servers, far more than the difference measured here.
 */
const METRICS_COST_WARMUP_SEC = 2;

async function metricsCostScenario(ctx) {
  const specs = ctx.adapters.flatMap((adapter) => [true, false].map((on) => ({ adapter, on })));
  const servers = await startAll(
    specs.map(
      ({ adapter, on }) =>
        () =>
          startKv(
            ctx,
            adapter,
            { METRICS_ENABLED: String(on) },
            { label: `${kvLabel(ctx, adapter)} metrics ${on ? 'on' : 'off'}` },
          ),
    ),
  );
  const rows = [];
  try {
    // Whether the setting took: /metrics answers with metrics on, and only then.
    const problems = [];
    for (const [i, server] of servers.entries()) {
      const res = await httpRequest(server.port, { path: '/metrics' }).catch(() => null);
      const status = res ? res.status : 0;
      const expected = specs[i].on ? status === 200 : status === 404;
      problems.push(
        expected
          ? []
          : [
              `GET /metrics answered ${status || 'nothing'}: METRICS_ENABLED=${specs[i].on} not honoured?`,
            ],
      );
    }
    const fills = await settleWithLimit(servers, 2, (server) => fill(ctx, server, 0, POOL_KEYS));
    const failed = fills.find((f) => f.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [name, makeWorkload] of [
      ['metrics-cost-get', getWorkload],
      ['metrics-cost-put', putWorkload],
    ]) {
      const workload = makeWorkload(POOL_KEYS);
      const stats = await interleave(ctx, name, servers, {
        connections: 50,
        workloadFor: () => workload,
        alternate: true,
        warmupSec: Math.max(ctx.opts.warmupSec, METRICS_COST_WARMUP_SEC),
      });
      for (let i = 0; i < specs.length; i += 2) {
        const [on, off] = [stats[i], stats[i + 1]];
        rows.push(throughputRow(name, servers[i], on, { baseName: 'base', detail: problems[i] }));
        // Run r of "on" and run r of "off" ran back to back, in alternating order: the median
        // of their ratios drifts far less than the ratio of the medians.
        const paired = on.runs.map((run, r) =>
          off.runs[r] && off.runs[r].rps ? run.rps / off.runs[r].rps : null,
        );
        const present = paired.filter((p) => p !== null);
        const onOverOff = median(present);
        const cost = onOverOff === null ? null : 1 - onOverOff;
        const detail = [...problems[i + 1]];
        if (cost !== null) {
          detail.push(
            `metrics cost ${(cost * 100).toFixed(1)}% of throughput (on = ${onOverOff.toFixed(3)}× off, median of runs)`,
          );
        }
        if (present.length > 1)
          detail.push(`per run on/off ${present.map((p) => p.toFixed(3)).join(', ')}`);
        const row = throughputRow(name, servers[i + 1], off, { detail });
        if (onOverOff) {
          row.ratio = 1 / onOverOff;
          row.ratioBase = 'metrics on (median of paired runs)';
          row.ratioText = `${row.ratio.toFixed(2)}× on`;
        }
        row.metricsCost = cost;
        row.pairedOnOff = paired;
        rows.push(row);
      }
    }
  } finally {
    await stopAll(servers);
  }
  return {
    rows,
    notes: [
      `kvstore in memory with METRICS_ENABLED=true (default) and false (no /metrics route, no per-request timing), ` +
        `${fmtInt(POOL_KEYS)} keys each, GET then PUT at 50 connections after ${METRICS_COST_WARMUP_SEC} s of warm-up per server ` +
        '(at least; --warmup), all servers interleaved, every other run in reverse ' +
        'order; ratio = off/on and cost = 1 - on/off, both from the median over runs of on/off measured back to back ' +
        "(the req/s column is each server's median); cost is the share of throughput that metrics take (aim: under " +
        '10%). A difference of a few percent is within the noise of short runs on this machine: the per-run ratios ' +
        'show the spread. The readiness probe is GET /health, which both have',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Generated data directories: a million keys written over HTTP would take minutes at kvstore's
// PUT rate, so put-keys and startup start kvstore on directories written by its own storage
// engine (make-data-dir.js), and the reference server prefilled in-process (PREFILL_KEYS).

/** --target=reference puts the reference server in kvstore's slot: it has no DATA_DIR to load. */
const isSelfTest = (ctx) => ctx.kvstoreEntry === ctx.referenceEntry;

/**
 * Data directories by key count (and whether compacted), each generated once per harness run and
 * copied into every server started on it (startServer's seedDir): put-keys and startup share one
 * generation, and no server sees what another wrote. Temporary directories, removed on every
 * way out.
 */
const generatedDirs = new Map();

/**
 * @param {{compact?: boolean}} [o] compact: false leaves the log as written, no snapshot (the
 *   compaction scenario); the default is a snapshot plus an empty log
 */
function generatedDataDir(ctx, keys, { compact = true } = {}) {
  const cacheKey = `${keys}${compact ? '' : ' log-only'}`;
  if (!generatedDirs.has(cacheKey)) {
    const made = generateDataDir(ctx, keys, { compact });
    generatedDirs.set(cacheKey, made);
  }
  return generatedDirs.get(cacheKey);
}

/** One new generated directory (not shared); the caller removes it with removeTempDir. */
function generateDataDir(ctx, keys, { compact = true, expiresAt = null } = {}) {
  const dir = makeTempDir(`data-${shortCount(keys)}${compact ? '' : '-log'}`);
  const what = [
    expiresAt === null ? null : `all expiring at ${new Date(expiresAt).toISOString()}`,
    compact ? null : 'not compacted',
  ].filter(Boolean);
  ctx.log(
    `generating a DATA_DIR with ${fmtInt(keys)} keys${what.length ? ` (${what.join(', ')})` : ''} (bench/make-data-dir.js)`,
  );
  const distDir = path.dirname(ctx.kvstoreEntry);
  return makeDataDir({ distDir, dir, keys, expiresAt, compact, track: trackChild }).then(
    (result) => {
      ctx.log(`generated: ${describeGenerated(result)}`);
      return {
        ...result,
        dir,
        engine: path.relative(ctx.root, path.join(distDir, 'storage', 'file')),
      };
    },
  );
}

function describeGenerated(data) {
  const content = data.compacted
    ? 'snapshot + empty log'
    : data.compactRequested === false
      ? 'log only, not compacted'
      : 'log only: the repository exposes no compact()';
  const timing = data.compacted
    ? `(writes ${(data.writeMs / 1000).toFixed(1)} s, compaction ${(data.compactMs / 1000).toFixed(1)} s)`
    : `(writes ${(data.writeMs / 1000).toFixed(1)} s)`;
  const expiry = data.expiresAt ? ', every key with the same absolute expiry' : '';
  return (
    `${fmtInt(data.keys)} keys in ${(data.elapsedMs / 1000).toFixed(1)} s ${timing}, ` +
    `${fmtBytes(data.bytes)}, ${content}${expiry}`
  );
}

/** The note that says how the data directories of a scenario were made. */
function generatedNote(generated) {
  return (
    'DATA_DIRs generated without HTTP by bench/make-data-dir.js, which drives the built FileStorageRepository ' +
    `(${generated[0].engine}) with FSYNC=no${generated.some((g) => g.compactRequested !== false) ? ', then compacts' : ''}: ` +
    generated.map(describeGenerated).join('; ')
  );
}

/** Which of the first and last of `keys` keys the server cannot answer (empty if it holds both). */
async function missingKeys(server, keys) {
  const missing = [];
  for (const i of [0, keys - 1]) {
    const res = await httpRequest(server.port, { path: `/key/${keyName(i)}` }).catch(() => null);
    if (!res || res.status !== 200) missing.push(keyName(i));
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// PUT with a thousand keys stored against the large key count: kvstore with STORAGE=file
// (FSYNC=everysec) on generated data directories on both sides, the reference prefilled.

const FILE_DEFAULT_ENV = { STORAGE: 'file', FSYNC: 'everysec' };

async function putKeysScenario(ctx) {
  const big = ctx.opts.keys;
  const selfTest = isSelfTest(ctx);
  const counts = [SMALL_KEYS, big];
  const data = new Map();
  if (!selfTest) {
    // Generated before any server starts, so that generating competes with no measurement.
    for (const keys of counts) data.set(keys, await generatedDataDir(ctx, keys));
  }
  // Both counts run side by side and are measured interleaved (1k and large alternate), so
  // "× its 1k figure" does not take in the drift of a shared machine between two phases.
  const [small, large] = await putWithKeys(ctx, counts, data);

  // What each server holds, for the detail column: kvstore on its file store, the reference
  // in its Map.
  const holding = (i, keys) =>
    `${fmtInt(keys)} keys${i === 0 || selfTest ? '' : ', FSYNC=everysec'}`;
  const rows = [];
  small.forEach((s, i) => {
    const detail = [...s.problems, holding(i, SMALL_KEYS)];
    const options =
      i === 0 ? { baseName: 'ceiling', detail } : { base: small[0].stat, baseName: 'ref', detail };
    rows.push(throughputRow('put-keys@1k', s, s.stat, options));
  });
  large.forEach((l, i) => {
    const detail = [...l.problems, holding(i, big)];
    if (small[i].stat.rps)
      detail.push(`${(l.stat.rps / small[i].stat.rps).toFixed(2)}× its 1k figure`);
    if (l.stat.rssMb !== null && small[i].stat.rssMb !== null) {
      const perKey = ((l.stat.rssMb - small[i].stat.rssMb) * 1024 * 1024) / (big - SMALL_KEYS);
      detail.push(`~${fmtInt(perKey)} B RSS per key`);
    }
    const options =
      i === 0 ? { baseName: 'ceiling', detail } : { base: large[0].stat, baseName: 'ref', detail };
    rows.push(throughputRow(`put-keys@${shortCount(big)}`, l, l.stat, options));
  });

  const notes = [
    (selfTest
      ? 'every server prefilled in-process (PREFILL_KEYS)'
      : 'kvstore runs with STORAGE=file FSYNC=everysec (the default durable policy) at both counts, each server on ' +
        'its own copy of a generated DATA_DIR; the reference server holds as many keys in its Map (PREFILL_KEYS)') +
      `. The ${fmtInt(SMALL_KEYS)}-key and ${fmtInt(big)}-key servers run side by side, measured interleaved; every ` +
      'PUT updates a stored key (c50 cycling over all of them); RSS per key = (RSS at the large count - at 1k) / extra keys',
  ];
  if (!selfTest) notes.push(generatedNote([...data.values()]));
  return { rows, notes };
}

/**
 * Starts, for each key count, the reference and kvstore per adapter holding that many keys, and
 * measures PUT c50 cycling over each server's keys, all interleaved. Returns per count, per
 * server (reference first) its label, stats and what is wrong.
 */
async function putWithKeys(ctx, counts, data) {
  const specs = counts.flatMap((keys) => [
    { keys, start: () => startReference(ctx, keys) },
    ...ctx.adapters.map((adapter) => ({
      keys,
      start: data.has(keys)
        ? () =>
            startKv(ctx, adapter, FILE_DEFAULT_ENV, {
              label: `${kvLabel(ctx, adapter)} file`,
              seedDir: data.get(keys).dir,
              readyTimeoutMs: 180000,
            })
        : () => startKv(ctx, adapter, { PREFILL_KEYS: String(keys) }, { readyTimeoutMs: 60000 }),
    })),
  ]);
  const servers = await startAll(specs.map((spec) => spec.start));
  try {
    // The same labels at both counts: the count tells them apart in the progress lines.
    const targets = servers.map((server, i) => ({
      label: `${server.label} @${shortCount(specs[i].keys)}`,
      url: server.url,
      pid: server.pid,
      workload: putWorkload(specs[i].keys),
    }));
    for (const [i, server] of servers.entries())
      ctx.log(`${targets[i].label}: ready in ${fmtMs(server.startMs)} ms`);
    const missing = [];
    for (const [i, server] of servers.entries())
      missing.push(await missingKeys(server, specs[i].keys));
    const stats = await interleave(ctx, 'put-keys', targets, {
      connections: 50,
      workloadFor: (target) => target.workload,
    });
    const results = counts.map(() => []);
    for (const [i, server] of servers.entries()) {
      const problems = [];
      if (missing[i].length > 0)
        problems.push(`${missing[i].join(', ')} NOT FOUND before the runs!`);
      // A server that died mid-run otherwise shows only as connection errors.
      if (server.hasExited()) {
        const exit = await server.exitPromise;
        problems.push(`EXITED during the runs (code ${exit.code}, signal ${exit.signal})`);
      }
      results[counts.indexOf(specs[i].keys)].push({
        label: server.label,
        stat: stats[i],
        problems,
      });
    }
    return results;
  } finally {
    await stopAll(servers);
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up time and RSS with 100 thousand and a million keys on disk.

async function startupScenario(ctx) {
  if (isSelfTest(ctx)) {
    return {
      rows: [],
      notes: [],
      status: 'n/a',
      reason: 'the reference server has no DATA_DIR to load (--target=reference)',
    };
  }
  // Generated before any server starts, so that generating competes with no start-up.
  const generated = [];
  for (const keys of ctx.opts.startupKeys) generated.push(await generatedDataDir(ctx, keys));
  const rows = [];
  for (const adapter of ctx.adapters) {
    const label = `${kvLabel(ctx, adapter)} file`;
    const empty = await emptyStart(ctx, adapter, label);
    for (const data of generated) rows.push(await loadedStart(ctx, adapter, label, data, empty));
  }
  const notes = [
    'STORAGE=file FSYNC=everysec, each start on a fresh copy of the generated DATA_DIR (page cache warm: it was ' +
      'just written); start-up = spawn to the first 200 from GET /health (GET /keys?limit=1 where /health is ' +
      "missing); RSS 200 ms after the last key was read; RSS per key = (RSS - an empty start's RSS) / keys",
    generatedNote(generated),
  ];
  return { rows, notes };
}

/** An empty store's start: the baseline for start-up time and for RSS per key. */
async function emptyStart(ctx, adapter, label) {
  const server = await startKv(ctx, adapter, FILE_DEFAULT_ENV, { label });
  try {
    // The same as a loaded start goes through before its RSS is read: one GET, then 200 ms.
    await httpRequest(server.port, { path: `/key/${keyName(0)}` }).catch(() => null);
    await sleep(200);
    const empty = { startMs: server.startMs, rssMb: rssMb(server.pid) };
    ctx.log(
      `${label}: empty start ready in ${fmtMs(empty.startMs)} ms, RSS ${fmtInt(empty.rssMb)} MB`,
    );
    return empty;
  } finally {
    await stopServer(server);
  }
}

/** Starts on a copy of the generated directory; times ready and the last key, then SIGTERM. */
async function loadedStart(ctx, adapter, label, data, empty) {
  const { keys } = data;
  const server = await startKv(ctx, adapter, FILE_DEFAULT_ENV, {
    label,
    seedDir: data.dir,
    readyTimeoutMs: 180000,
  });
  let measured;
  let stopped;
  try {
    // Ready is not the same as loaded if the server loads lazily: also time the first read of
    // the last key, which only a fully recovered store can answer.
    const readMs = await msUntil200(server, `/key/${keyName(keys - 1)}`, 30000);
    await sleep(200);
    measured = { readyMs: server.startMs, readMs, rss: rssMb(server.pid) };
  } finally {
    stopped = await stopServer(server, { timeoutMs: 60000 });
  }
  const { readyMs, readMs, rss } = measured;
  ctx.log(
    `${label}: ready in ${fmtMs(readyMs)} ms with ${fmtInt(keys)} keys, RSS ${fmtInt(rss)} MB`,
  );
  const rssPerKey =
    rss !== null && empty.rssMb !== null ? ((rss - empty.rssMb) * 1024 * 1024) / keys : null;
  const detail = [
    `ready in ${fmtInt(readyMs)} ms with ${fmtInt(keys)} keys on disk (${fmtBytes(data.bytes)}${data.compacted ? ' snapshot' : ' log'})`,
    `empty start ${fmtInt(empty.startMs)} ms`,
    Number.isFinite(readMs)
      ? `last key readable at ${fmtInt(readMs)} ms`
      : 'LAST KEY NOT FOUND after start: data not recovered?',
    rssPerKey === null
      ? 'RSS per key unknown'
      : `RSS +${fmtInt(rss - empty.rssMb)} MB over an empty start (~${fmtInt(rssPerKey)} B per key)`,
    `SIGTERM→exit ${fmtInt(stopped.stopMs)} ms${stopped.forced ? ' (killed after 60 s)' : ''}`,
  ];
  if (server.readyPath !== '/health') detail.push(`no /health: ready = ${server.readyPath}`);
  return {
    scenario: `startup@${shortCount(keys)}`,
    server: label,
    rps: null,
    p50: null,
    p99: null,
    rssMb: rss,
    startMs: readyMs,
    emptyStartMs: empty.startMs,
    emptyRssMb: empty.rssMb,
    rssPerKeyBytes: rssPerKey,
    firstReadMs: Number.isFinite(readMs) ? readMs : null,
    stopMs: stopped.stopMs,
    readyPath: server.readyPath,
    keys,
    diskBytes: data.bytes,
    generatedMs: data.elapsedMs,
    ratio: readyMs / empty.startMs,
    ratioBase: 'empty start',
    ratioText: `${(readyMs / empty.startMs).toFixed(1)}× empty`,
    detail: detail.join('; '),
  };
}

/** Milliseconds from the server's spawn until GET urlPath answers 200, or Infinity. */
async function msUntil200(server, urlPath, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const res = await httpRequest(server.port, { path: urlPath, timeoutMs: 10000 }).catch(() => ({
      status: 0,
    }));
    if (res.status === 200) return performance.now() - server.spawnedAt;
    if (performance.now() > deadline) return Infinity;
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// GET p99 while the large key count expires at one instant T.

/**
 * How far ahead of the start of generation T is set: generating the directory (~9 µs a key on
 * the 2-core machine), copying it and starting kvstore on it (~4 µs a key) must fit before
 * T - 2 s, with room for a busy machine (about twice as slow) and the warm-up.
 */
const EXPIRY_LEAD_US_PER_KEY = 30;
const EXPIRY_LEAD_FIXED_MS = 6000;
/** Measured before T. */
const EXPIRY_BEFORE_MS = 2000;
/** The run goes on until the sweep is over, at least this long after T... */
const EXPIRY_AFTER_MIN_MS = 4000;
/** ...and at most this long. */
const EXPIRY_AFTER_MAX_MS = 30000;
/** The sweep is taken as over once the log has not grown for this long. */
const SWEEP_QUIET_MS = 1000;

async function expiryScenario(ctx) {
  const selfTest = isSelfTest(ctx);
  const rows = [];
  const generated = [];
  for (const adapter of ctx.adapters) rows.push(await expiryRun(ctx, adapter, generated));
  const notes = [
    (selfTest
      ? 'the reference server in the kvstore slot, prefilled with every key expiring at T (PREFILL_KEYS, PREFILL_EXPIRES_AT)'
      : `kvstore with STORAGE=file FSYNC=everysec on a DATA_DIR generated per adapter, every key's expiresAt = T, one ` +
        `absolute instant set ${EXPIRY_LEAD_US_PER_KEY} µs a key + ${EXPIRY_LEAD_FIXED_MS / 1000} s after generation ` +
        'begins, so that generation and start-up end before T - 2 s (the row says how long they took, and whether T was missed)') +
      `; GET load (${EVENT_CONNECTIONS} connections, cycling over the expiring keys; up to ${EVENT_WARMUP_MS / 1000} s of ` +
      'unmeasured warm-up first, as the wait for T allows) from T - 2 s until the sweep is over ' +
      `(the log has not grown for ${SWEEP_QUIET_MS / 1000} s; at least T + ${EXPIRY_AFTER_MIN_MS / 1000} s, at most ` +
      `T + ${EXPIRY_AFTER_MAX_MS / 1000} s); p50/p99 columns = from T on; ratio = p99 from T on / p99 before T`,
  ];
  if (!selfTest) {
    notes.push(
      'the sweep is seen from outside as the log growing (one expire record per key); "all gone" is the first GET /stats ' +
        'after the load answering storedKeys 0 (not polled during the load: /stats costs O(expired keys not swept yet)). ' +
        'Keys are no longer written over HTTP with ?ttl= (that reached tens of thousands of keys in its time budget)',
      generatedNote(generated),
    );
  }
  return { rows, notes };
}

async function expiryRun(ctx, adapter, generated) {
  const { keys } = ctx.opts;
  const selfTest = isSelfTest(ctx);
  const began = Date.now();
  const expiryAt =
    Math.ceil((began + (keys * EXPIRY_LEAD_US_PER_KEY) / 1000 + EXPIRY_LEAD_FIXED_MS) / 1000) *
    1000;
  const label = selfTest ? kvLabel(ctx, adapter) : `${kvLabel(ctx, adapter)} file`;
  let data = null;
  let server = null;
  try {
    if (!selfTest) {
      data = await generateDataDir(ctx, keys, { expiresAt: expiryAt });
      generated.push(data);
    }
    const generatedAt = Date.now();
    server = await startKv(
      ctx,
      adapter,
      selfTest
        ? { PREFILL_KEYS: String(keys), PREFILL_EXPIRES_AT: String(expiryAt) }
        : FILE_DEFAULT_ENV,
      { label, seedDir: data ? data.dir : undefined, readyTimeoutMs: 180000 },
    );
    const timing = { began, generatedAt, readyAt: Date.now(), expiryAt, generated: !selfTest };
    ctx.log(
      `${label}: ready in ${fmtMs(server.startMs)} ms with ${fmtInt(keys)} keys; T in ${((expiryAt - timing.readyAt) / 1000).toFixed(1)} s`,
    );
    // Less than a second before T: nothing to compare with (and after T, the store forgot the
    // keys while loading).
    if (timing.readyAt > expiryAt - 1000) return expiryMissedRow(server, keys, timing);

    const loadFrom = expiryAt - EXPIRY_BEFORE_MS;
    // The wait for T is idle anyway: warm up for longer than --warmup if it leaves room.
    const warmupMs = Math.min(
      Math.max(ctx.opts.warmupSec * 1000, EVENT_WARMUP_MS),
      loadFrom - 200 - Date.now(),
    );
    if (warmupMs >= 100) {
      await sleep(loadFrom - warmupMs - 200 - Date.now());
      await runLoad({
        url: server.url,
        connections: EVENT_CONNECTIONS,
        durationSec: warmupMs / 1000,
        workload: getWorkload(keys),
      });
    }
    if (loadFrom > Date.now()) await sleep(loadFrom - Date.now());
    const growth = selfTest ? null : watchGrowth(server.dataDir, 50);
    const run = await runLoad({
      url: server.url,
      connections: EVENT_CONNECTIONS,
      durationSec: (expiryAt + EXPIRY_AFTER_MAX_MS - Date.now()) / 1000,
      workload: getWorkload(keys),
      timeline: true,
      stopWhen: () => {
        const now = Date.now();
        if (now < expiryAt + EXPIRY_AFTER_MIN_MS) return false;
        const last = growth ? growth.lastGrowthAt() : null;
        // No growth by T + 4 s: nothing is sweeping (or the self-test has no log).
        return last === null || last < expiryAt || now - last >= SWEEP_QUIET_MS;
      },
    });
    const sweep = growth ? growth.stop() : null;
    const rss = rssMb(server.pid);
    const gone = selfTest ? null : await storedKeysGone(server, 60000);
    if (gone && gone.zeroAt !== null)
      ctx.log(`${label}: /stats storedKeys 0 at T+${fmtInt(gone.zeroAt - expiryAt)} ms`);
    return expiryRow(server, run, { expiryAt, keys, rss, sweep, gone, timing });
  } finally {
    if (server) await stopServer(server, { timeoutMs: 30000 });
    if (data) removeTempDir(data.dir);
  }
}

/** Polls a directory's total size; reports when it grew (the sweep appends expire records). */
function watchGrowth(dir, intervalMs) {
  const samples = [{ t: Date.now(), bytes: dirBytes(dir) }];
  let lastGrowthAt = null;
  const timer = setInterval(() => {
    const bytes = dirBytes(dir);
    const t = Date.now();
    if (bytes > samples[samples.length - 1].bytes) lastGrowthAt = t;
    if (bytes !== samples[samples.length - 1].bytes) samples.push({ t, bytes });
  }, intervalMs);
  return {
    lastGrowthAt: () => lastGrowthAt,
    stop() {
      clearInterval(timer);
      const grew = samples.slice(1).filter((s, i) => s.bytes > samples[i].bytes);
      return {
        firstAt: grew.length > 0 ? grew[0].t : null,
        lastAt: lastGrowthAt,
        bytes: samples[samples.length - 1].bytes - samples[0].bytes,
      };
    },
  };
}

/**
 * Polls GET /stats until storedKeys is 0, every 500 ms up to timeoutMs. Returns the first
 * answer's count and when it reached 0 (null if it did not), or null without a /stats route.
 */
async function storedKeysGone(server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let first = null;
  let last = null;
  for (;;) {
    const res = await httpRequest(server.port, { path: '/stats', timeoutMs: 10000 }).catch(
      () => null,
    );
    let stored;
    try {
      stored = res && res.status === 200 ? JSON.parse(res.body).storedKeys : null;
    } catch {
      stored = null;
    }
    if (typeof stored !== 'number') return first === null ? null : { first, last, zeroAt: null };
    if (first === null) first = stored;
    last = stored;
    if (stored === 0) return { first, last, zeroAt: Date.now() };
    if (Date.now() > deadline) return { first, last, zeroAt: null };
    await sleep(500);
  }
}

function describeExpiryTiming({ began, generatedAt, readyAt, expiryAt }) {
  return (
    `T set ${fmtSec(expiryAt - began)} after generation began: generated in ${fmtSec(generatedAt - began)}, ` +
    `copied and ready ${fmtSec(readyAt - generatedAt)} later, ${fmtSec(expiryAt - readyAt)} before T`
  );
}

const fmtSec = (ms) => `${(ms / 1000).toFixed(1)} s`;

function expiryMissedRow(server, keys, timing) {
  return {
    scenario: `expiry@${shortCount(keys)}`,
    server: server.label,
    rps: null,
    p50: null,
    p99: null,
    rssMb: rssMb(server.pid),
    keys,
    ratioText: 'n/a',
    detail:
      `T MISSED: ready only ${fmtSec(timing.expiryAt - timing.readyAt)} before T, not measured; ` +
      `${describeExpiryTiming(timing)} (the machine is slower than EXPIRY_LEAD_US_PER_KEY in bench/scenarios.js assumes)`,
  };
}

function expiryRow(server, run, { expiryAt, keys, rss, sweep, gone, timing }) {
  const { times, latencies, statuses } = run.timeline;
  const startedAt = times.length > 0 ? times[0] : expiryAt;
  const before = { lat: [], ok: 0, n: 0 };
  const after = { lat: [], ok: 0, n: 0 };
  const duringSweep = [];
  const sweepFrom = sweep && sweep.firstAt !== null ? sweep.firstAt - 50 : null;
  const sweepTo = sweep && sweep.lastAt !== null ? sweep.lastAt + 50 : null;
  let lastOkAt = null;
  let lateOk = 0;
  for (let i = 0; i < times.length; i += 1) {
    const t = times[i];
    const ok = statuses[i] === 200;
    // Skip the first 300 ms: connections opening and JIT, not the server's steady state.
    if (t >= startedAt + 300 && t < expiryAt - 50) {
      before.lat.push(latencies[i]);
      before.n += 1;
      if (ok) before.ok += 1;
    } else if (t >= expiryAt) {
      after.lat.push(latencies[i]);
      after.n += 1;
      if (ok) {
        after.ok += 1;
        lastOkAt = t;
        if (t >= expiryAt + 1500) lateOk += 1;
      }
    }
    if (sweepFrom !== null && t >= sweepFrom && t <= sweepTo) duringSweep.push(latencies[i]);
  }
  const p99Before = percentile(before.lat, 99);
  const p99After = percentile(after.lat, 99);
  const p99Sweep = percentile(duringSweep, 99);
  const worst = worstBucketP99(times, latencies, expiryAt - 1000, 250);
  const row = {
    scenario: `expiry@${shortCount(keys)}`,
    server: server.label,
    rps: run.rps,
    p50: percentile(after.lat, 50),
    p99: p99After,
    rssMb: rss,
    p99Before,
    p99DuringSweep: p99Sweep,
    maxAfter: percentile(after.lat, 100),
    worst250msP99: worst,
    keys,
    sweptFromMs: sweepFrom === null ? null : sweep.firstAt - expiryAt,
    sweptToMs: sweepTo === null ? null : sweep.lastAt - expiryAt,
    sweepLogBytes: sweep ? sweep.bytes : null,
    storedKeysZeroAtMs: gone && gone.zeroAt !== null ? gone.zeroAt - expiryAt : null,
    timing,
    ratio: p99Before ? p99After / p99Before : null,
    ratioBase: 'p99 before T',
    ratioText: p99Before ? `${(p99After / p99Before).toFixed(1)}× before` : '-',
  };
  const measuredFor = times.length > 0 ? times[times.length - 1] - expiryAt : 0;
  const detail = [
    `${fmtInt(keys)} keys expiring at T; load until T+${fmtSec(measuredFor)}`,
    `p99 before T ${fmtMs(p99Before)} ms`,
    `worst 250 ms p99 ${fmtMs(worst)} ms`,
    `max after T ${fmtMs(row.maxAfter)} ms`,
    lastOkAt === null ? 'no 200 after T' : `last 200 at T+${fmtInt(lastOkAt - expiryAt)} ms`,
  ];
  if (sweep) {
    detail.push(
      sweep.firstAt === null
        ? 'the log did not grow: no sweep seen'
        : `sweep (log growing) T+${fmtSec(sweep.firstAt - expiryAt)} → T+${fmtSec(sweep.lastAt - expiryAt)}, ` +
            `${fmtBytes(sweep.bytes)} of expire records, p99 during it ${fmtMs(p99Sweep)} ms`,
    );
  }
  if (gone === null && sweep) detail.push('no /stats answer after the load');
  else if (gone)
    detail.push(
      gone.zeroAt === null
        ? `STILL ${fmtInt(gone.last)} keys stored (GET /stats) 60 s after the load`
        : gone.first === 0
          ? `all gone (GET /stats storedKeys 0) at T+${fmtSec(gone.zeroAt - expiryAt)}, the first check`
          : `all gone (GET /stats storedKeys 0) at T+${fmtSec(gone.zeroAt - expiryAt)} (${fmtInt(gone.first)} stored at the first check)`,
    );
  if (timing.generated) detail.push(describeExpiryTiming(timing));
  // The measurement only means something if the keys were alive before T and gone after it.
  if (before.n === 0 || before.ok / before.n < 0.5) {
    row.ratioText = 'n/a';
    detail.unshift(
      `keys were not alive before T (${fmtInt(before.ok)} of ${fmtInt(before.n)} GETs answered 200)`,
    );
  } else if (lateOk > 0) {
    row.ratioText = 'n/a';
    detail.unshift(
      `${fmtInt(lateOk)} GETs still answered 200 more than 1.5 s after T: expiry not honoured?`,
    );
  }
  row.detail = detail.join('; ');
  return row;
}

/** The highest p99 over consecutive windows of `bucketMs` from `from` on (up to `to`). */
function worstBucketP99(times, latencies, from, bucketMs, to = Infinity) {
  const buckets = new Map();
  for (let i = 0; i < times.length; i += 1) {
    if (times[i] < from || times[i] > to) continue;
    const b = Math.floor((times[i] - from) / bucketMs);
    if (!buckets.has(b)) buckets.set(b, []);
    buckets.get(b).push(latencies[i]);
  }
  let worst = null;
  for (const values of buckets.values()) {
    if (values.length < 20) continue; // too few samples for a p99
    const p = percentile(values, 99);
    if (worst === null || p > worst) worst = p;
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------
// GET p99 during a compaction that copies the large key count.

/** Background ~4 KB overwrites per second: the log grows by a known amount per second. */
const COMPACTION_WRITE_RATE = 500;
/** Seconds of writes (and of GET load measured before compaction) until the log crosses the
 * compaction threshold. */
const COMPACTION_LEAD_SEC = 3;
/** GET load goes on this long after the compaction's last file event. */
const COMPACTION_TAIL_MS = 2000;
/** At most this long in all, compaction seen or not. */
const COMPACTION_MAX_SEC = 60;

/**
 * kvstore starts on a generated DATA_DIR of --keys keys left as a log (not compacted). With no
 * snapshot, the compaction threshold is COMPACT_MIN_BYTES alone (COMPACT_RATIO × the last
 * snapshot's size is 0), so COMPACT_MIN_BYTES is set to the log's size plus what the steady
 * background writes add in COMPACTION_LEAD_SEC seconds: compaction starts that far into the
 * measured GET load and copies every key into a new snapshot, which is the work a compaction
 * does whatever the directory held before (it snapshots the in-memory table; it never reads the
 * old files). With a snapshot of the same keys, the smallest COMPACT_RATIO (2) would need twice
 * its size, ~300 MiB, of overwrites first.
 */
async function compactionScenario(ctx) {
  if (isSelfTest(ctx)) {
    return {
      rows: [],
      notes: [],
      status: 'n/a',
      reason: 'the reference server has no DATA_DIR to compact (--target=reference)',
    };
  }
  const { keys } = ctx.opts;
  const data = await generatedDataDir(ctx, keys, { compact: false });
  const compactMinBytes =
    data.bytes + COMPACTION_WRITE_RATE * COMPACTION_LEAD_SEC * GARBAGE_VALUE_BYTES;
  // At info kvstore logs each compaction with its duration, and still no per-request line.
  const logLevel = ['debug', 'trace'].includes(ctx.opts.logLevel) ? ctx.opts.logLevel : 'info';
  const rows = [];
  for (const adapter of ctx.adapters) {
    const label = `${kvLabel(ctx, adapter)} file`;
    const server = await startKv(
      ctx,
      adapter,
      {
        ...FILE_DEFAULT_ENV,
        COMPACT_MIN_BYTES: String(compactMinBytes),
        LOG_LEVEL: logLevel,
      },
      { label, seedDir: data.dir, readyTimeoutMs: 180000 },
    );
    try {
      ctx.log(
        `${label}: ready in ${fmtMs(server.startMs)} ms with ${fmtInt(keys)} keys in its log`,
      );
      const missing = await missingKeys(server, keys);
      await runLoad({
        url: server.url,
        connections: EVENT_CONNECTIONS,
        durationSec: Math.max(ctx.opts.warmupSec, EVENT_WARMUP_MS / 1000),
        workload: getWorkload(keys),
      });
      const trigger = await findCompactionRoute(server.port);
      const metricsBefore = await compactionMetrics(server.port);
      const bytesBefore = dirBytes(server.dataDir);
      const outputBefore = server.outputTail().length;
      const watcher = watchDir(server.dataDir, 50);
      const triggered = [];
      let triggerTimer = null;
      if (trigger) {
        // A server that documents a compaction route: called when the threshold would be crossed.
        triggerTimer = setTimeout(async () => {
          const at = Date.now();
          const res = await httpRequest(server.port, {
            method: trigger.method,
            path: trigger.path,
            timeoutMs: 60000,
          }).catch((error) => ({
            status: 0,
            body: error.message,
          }));
          triggered.push({ from: at, to: Date.now(), status: res.status });
        }, COMPACTION_LEAD_SEC * 1000);
      }
      const runStarted = Date.now();
      // Done once a file that appeared during the run has gone again (a snapshot's temporary
      // file renamed, an old log deleted) COMPACTION_TAIL_MS ago.
      const stopWhen = () => {
        const last = watcher.lastRemovalAt();
        return (
          last !== null &&
          Date.now() - last >= COMPACTION_TAIL_MS &&
          Date.now() - runStarted >= (COMPACTION_LEAD_SEC + 1) * 1000
        );
      };
      const [reads, writes] = await Promise.all([
        runLoad({
          url: server.url,
          connections: EVENT_CONNECTIONS,
          durationSec: COMPACTION_MAX_SEC,
          workload: getWorkload(keys),
          timeline: true,
          stopWhen,
        }),
        pacedLoad({
          url: server.url,
          rate: COMPACTION_WRITE_RATE,
          connections: 4,
          durationSec: COMPACTION_MAX_SEC,
          workload: garbageWorkload(),
          stopWhen,
        }),
      ]);
      clearTimeout(triggerTimer);
      const events = watcher.stop();
      const metricsAfter = await compactionMetrics(server.port);
      const rss = rssMb(server.pid);
      rows.push(
        compactionRow(server, reads, {
          keys,
          missing,
          events,
          triggered,
          trigger,
          metricDeltas: diffMetrics(metricsBefore, metricsAfter),
          writes,
          bytesBefore,
          bytesAfter: dirBytes(server.dataDir),
          serverLog: serverCompactions(server.outputTail().slice(outputBefore)),
          rss,
        }),
      );
    } finally {
      await stopServer(server, { timeoutMs: 30000 });
    }
  }
  const notes = [
    `STORAGE=file FSYNC=everysec on a copy of a generated ${fmtInt(keys)}-key DATA_DIR left as a log, no snapshot; ` +
      `COMPACT_MIN_BYTES = its size + ${fmtBytes(COMPACTION_WRITE_RATE * COMPACTION_LEAD_SEC * GARBAGE_VALUE_BYTES)} ` +
      `(${fmtInt(compactMinBytes)}), which ${COMPACTION_WRITE_RATE} ~4 KB PUTs a second (overwrites of ${GARBAGE_KEYS} keys, ` +
      `paced evenly, throughout) add in ~${COMPACTION_LEAD_SEC} s, so the compaction, which copies every key into a ` +
      `new snapshot, starts ~${COMPACTION_LEAD_SEC} s into the GET load (${EVENT_CONNECTIONS} connections over all ` +
      `${fmtInt(keys)} keys, after ${EVENT_WARMUP_MS / 1000} s of unmeasured GET warm-up). With no snapshot the threshold is COMPACT_MIN_BYTES alone; from a snapshot of the same keys, ` +
      'the smallest COMPACT_RATIO (2) would take ~300 MiB of overwrites. LOG_LEVEL=info for this server (no per-request ' +
      'lines) so that it logs its compactions with their duration',
    'compaction windows = files in DATA_DIR created/renamed/removed (polled every 50 ms; from the new log segment to ' +
      'the old log deleted, ±100 ms); also a /metrics series named *compact* or a POST route named *compact* in the ' +
      'OpenAPI document, if the server has them. p50/p99 columns = GETs inside the window; ratio = p99 inside / outside',
    generatedNote([data]),
  ];
  const allNa = rows.every((row) => row.ratioText === 'n/a');
  return allNa
    ? { rows, notes, status: 'n/a', reason: 'no compaction could be observed (see the rows)' }
    : { rows, notes };
}

/** kvstore's own "Compacted <dir>: <snapshot> (<n> bytes) ... in <ms> ms." lines. */
function serverCompactions(output) {
  const found = [];
  const pattern = /Compacted [^\n]*?\((\d+) bytes\)[^\n]*? in (\d+) ms/g;
  for (let match = pattern.exec(output); match; match = pattern.exec(output))
    found.push({ snapshotBytes: Number(match[1]), ms: Number(match[2]) });
  return found;
}

function compactionRow(server, reads, o) {
  const { times, latencies } = reads.timeline;
  const windows = compactionWindows(o.events);
  for (const call of o.triggered)
    if (call.status >= 200 && call.status < 300)
      windows.push({ from: call.from, to: call.to + 100 });
  const during = [];
  const outside = [];
  const steadyFrom = times.length > 0 ? times[0] + 300 : 0;
  for (let i = 0; i < times.length; i += 1) {
    // The first 300 ms are connections opening, not the server's steady state.
    if (times[i] < steadyFrom) continue;
    (windows.some((w) => times[i] >= w.from && times[i] <= w.to) ? during : outside).push(
      latencies[i],
    );
  }
  const metricText = Object.entries(o.metricDeltas)
    .filter(([, delta]) => delta !== 0)
    .map(([name, delta]) => `${name} +${delta}`)
    .join(', ');
  const p99Outside = percentile(outside, 99);
  const p99During = percentile(during, 99);
  const wroteMiB = (o.writes.total * GARBAGE_VALUE_BYTES) / 1024 / 1024;
  const common = [
    `${fmtInt(o.writes.total)} PUTs (~${wroteMiB.toFixed(1)} MiB of records) in ${o.writes.durationSec.toFixed(1)} s` +
      (o.writes.behind ? ` (${fmtInt(o.writes.behind)} not sent: the server fell behind)` : '') +
      (o.writes.non2xx || o.writes.errors
        ? `, ${fmtInt(o.writes.non2xx)} non-2xx and ${fmtInt(o.writes.errors)} failed!`
        : ''),
    `DATA_DIR ${fmtBytes(o.bytesBefore)} → ${fmtBytes(o.bytesAfter)}`,
  ];
  if (o.missing.length > 0) common.unshift(`${o.missing.join(', ')} NOT FOUND before the run!`);
  const row = {
    scenario: `compaction@${shortCount(o.keys)}`,
    server: server.label,
    rps: reads.rps,
    rssMb: o.rss,
    p50: null,
    p99: null,
    p99Outside,
    compactionWindows: windows.length,
    compactionMs: null,
    serverCompactions: o.serverLog,
    fileEvents: o.events,
    metricDeltas: o.metricDeltas,
  };
  if (windows.length === 0 && metricText === '' && o.serverLog.length === 0) {
    return {
      ...row,
      p50: reads.p50,
      p99: reads.p99,
      ratioText: 'n/a',
      detail: [
        'no compaction observed (no file in DATA_DIR replaced, removed or shrunk; no compaction metric; no admin route)',
        'p50/p99 columns = whole run',
        ...common,
      ].join('; '),
    };
  }
  if (windows.length === 0 || during.length === 0) {
    return {
      ...row,
      p50: reads.p50,
      p99: reads.p99,
      ratioText: 'whole run',
      detail: [
        `compaction reported by ${metricText ? `/metrics (${metricText})` : 'the server log'} but not visible in DATA_DIR: p50/p99 = whole run`,
        ...common,
      ].join('; '),
    };
  }
  // The windows carry 100 ms margins on each side.
  const spans = windows.map((w) => w.to - w.from - 200);
  row.compactionMs = spans.reduce((sum, ms) => sum + ms, 0);
  const startedAfter = windows[0].from + 100 - times[0];
  const eventText = o.events
    .slice(0, 5)
    .map((e) => `${e.kind} ${e.name}`)
    .join(', ');
  const logText = o.serverLog
    .map((c) => `${fmtInt(c.ms)} ms, snapshot ${fmtBytes(c.snapshotBytes)}`)
    .join('; ');
  return {
    ...row,
    p50: percentile(during, 50),
    p99: p99During,
    ratio: p99Outside ? p99During / p99Outside : null,
    ratioBase: 'p99 outside compaction',
    ratioText: p99Outside ? `${(p99During / p99Outside).toFixed(1)}× outside` : '-',
    detail: [
      `${windows.length} compaction window(s) of ${spans.map((ms) => fmtSec(ms)).join(', ')} ` +
        `(the first ${fmtSec(startedAfter)} into the load), ${fmtInt(during.length)} GETs inside, ${fmtInt(outside.length)} outside`,
      logText ? `server log: compacted in ${logText}` : null,
      `p99 outside ${fmtMs(p99Outside)} ms, max inside ${fmtMs(percentile(during, 100))} ms, ` +
        `worst 250 ms p99 inside ${fmtMs(worstWindowP99(times, latencies, windows, 250))} ms`,
      `files: ${eventText}${o.events.length > 5 ? ', …' : ''}`,
      metricText ? `metrics: ${metricText}` : null,
      o.trigger ? `triggered via ${o.trigger.method} ${o.trigger.path}` : null,
      ...common,
    ]
      .filter(Boolean)
      .join('; '),
  };
}

/** The highest p99 over consecutive `bucketMs` buckets inside the windows. */
function worstWindowP99(times, latencies, windows, bucketMs) {
  let worst = null;
  for (const w of windows) {
    const p = worstBucketP99(times, latencies, w.from, bucketMs, w.to);
    if (p !== null && (worst === null || p > worst)) worst = p;
  }
  return worst;
}

/**
 * Overwrites of a small hot set of keys with ~4 KB values: the log grows by 4 KB per write
 * while the live data (what a compaction must copy) stays about the same, the way an
 * update-heavy workload grows it.
 */
const GARBAGE_KEYS = 256;
const GARBAGE_VALUE_BYTES = 4096;

function garbageWorkload() {
  const ring = Array.from({ length: 16 }, (_, i) =>
    Buffer.from(JSON.stringify({ rev: i, blob: 'x'.repeat(GARBAGE_VALUE_BYTES - 30) })),
  );
  return {
    method: 'PUT',
    keyCount: GARBAGE_KEYS,
    path: (i) => `/key/${keyName(i)}`,
    body: (i) => ring[i & 15],
  };
}

/** Polls a directory tree; reports files replaced (new inode), removed, shrunk, or created. */
function watchDir(dir, intervalMs) {
  const events = [];
  let previous = listFiles(dir);
  const timer = setInterval(() => {
    const current = listFiles(dir);
    const t = Date.now();
    for (const [name, before] of previous) {
      const now = current.get(name);
      if (!now) events.push({ t, kind: 'removed', name });
      else if (now.ino !== before.ino) events.push({ t, kind: 'replaced', name });
      else if (now.size < before.size) events.push({ t, kind: 'shrunk', name });
    }
    for (const name of current.keys())
      if (!previous.has(name)) events.push({ t, kind: 'created', name });
    previous = current;
  }, intervalMs);
  return {
    /** When a file last disappeared (the end of a compaction), or null. */
    lastRemovalAt() {
      for (let i = events.length - 1; i >= 0; i -= 1)
        if (events[i].kind === 'removed') return events[i].t;
      return null;
    },
    stop() {
      clearInterval(timer);
      return events;
    },
  };
}

function listFiles(dir, prefix = '', into = new Map()) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(dir, prefix), { withFileTypes: true });
  } catch {
    return into;
  }
  for (const entry of entries) {
    const name = path.join(prefix, entry.name);
    if (entry.isDirectory()) listFiles(dir, name, into);
    else {
      try {
        const stat = fs.statSync(path.join(dir, name));
        into.set(name, { size: stat.size, ino: stat.ino });
      } catch {
        // Gone between readdir and stat: the next poll reports it.
      }
    }
  }
  return into;
}

/**
 * Compaction windows from directory events. A file that appears and disappears during the run
 * (a snapshot written as .tmp, then renamed) spans its compaction from start to end; other events
 * are instants. Intervals less than 200 ms apart are one compaction; 100 ms margins cover the
 * 50 ms between polls and the requests that a compaction delayed.
 */
function compactionWindows(events) {
  const intervals = events.map((e) => ({ from: e.t, to: e.t }));
  events.forEach((created, i) => {
    if (created.kind !== 'created') return;
    const gone = events.slice(i + 1).find((e) => e.name === created.name && e.kind === 'removed');
    if (gone) intervals.push({ from: created.t, to: gone.t });
  });
  intervals.sort((a, b) => a.from - b.from);
  const merged = [];
  for (const interval of intervals) {
    const last = merged[merged.length - 1];
    if (last && interval.from - last.to <= 200) last.to = Math.max(last.to, interval.to);
    else merged.push({ ...interval });
  }
  return merged.map((w) => ({ from: w.from - 100, to: w.to + 100 }));
}

/** Sum of every /metrics sample whose name mentions compaction, by metric name. */
async function compactionMetrics(port) {
  const res = await httpRequest(port, { path: '/metrics' }).catch(() => null);
  const sums = {};
  if (!res || res.status !== 200) return sums;
  for (const line of res.body.split('\n')) {
    if (line.startsWith('#') || !/compact/i.test(line)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+([-+\d.eE]+|NaN|[+-]Inf)/.exec(line);
    if (!match) continue;
    // Gauges such as "compaction in progress" change both ways; counters only grow.
    const value = Number(match[2]);
    if (Number.isFinite(value)) sums[match[1]] = (sums[match[1]] || 0) + value;
  }
  return sums;
}

function diffMetrics(before, after) {
  const deltas = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (/_bucket$/.test(name)) continue; // histogram buckets repeat _count
    deltas[name] = (after[name] || 0) - (before[name] || 0);
  }
  return deltas;
}

/** A compaction route, if the server describes one in its OpenAPI document (Nest Swagger). */
async function findCompactionRoute(port) {
  for (const docPath of [
    '/docs-json',
    '/api-json',
    '/swagger-json',
    '/api/docs-json',
    '/openapi.json',
  ]) {
    const res = await httpRequest(port, { path: docPath }).catch(() => null);
    if (!res || res.status !== 200) continue;
    let doc;
    try {
      doc = JSON.parse(res.body);
    } catch {
      continue;
    }
    for (const [routePath, methods] of Object.entries(doc.paths || {})) {
      if (!/compact/i.test(routePath) || routePath.includes('{')) continue;
      if (methods.post) return { method: 'POST', path: routePath };
    }
  }
  return null;
}

/** A key count for a row name: 1k, 48k, 1M, 1.2M (the exact count is in the detail). */
function shortCount(n) {
  if (n >= 1e6) return `${Number((n / 1e6).toFixed(1))}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

// ---------------------------------------------------------------------------------------------

/**
 * name: for --only; quick: part of --quick; pool: uses the shared in-memory servers; floor:
 * shows the framework floor (nest-floor-server.js) unless --floor=off.
 */
const SCENARIOS = [
  {
    name: 'get-c1',
    quick: true,
    pool: true,
    floor: true,
    about: 'GET, 1 connection, 10,000 keys',
    run: memoryScenario('get-c1', 1, getWorkload),
  },
  {
    name: 'get-c50',
    quick: true,
    pool: true,
    floor: true,
    about: 'GET, 50 connections, 10,000 keys',
    run: memoryScenario('get-c50', 50, getWorkload),
  },
  {
    name: 'put-c1',
    quick: true,
    pool: true,
    floor: true,
    about: 'PUT cycling over 10,000 keys, 1 connection',
    run: memoryScenario('put-c1', 1, putWorkload),
  },
  {
    name: 'put-c50',
    quick: true,
    pool: true,
    floor: true,
    about: 'PUT cycling over 10,000 keys, 50 connections',
    run: memoryScenario('put-c50', 50, putWorkload),
  },
  {
    name: 'put-file',
    quick: true,
    pool: true,
    about: 'PUT c50 with STORAGE=file per FSYNC policy, vs in-memory PUT',
    run: putFileScenario,
  },
  {
    name: 'metrics-cost',
    quick: false,
    pool: false,
    about: 'GET and PUT c50 in memory, METRICS_ENABLED=true vs false',
    run: metricsCostScenario,
  },
  {
    name: 'put-keys',
    quick: false,
    pool: false,
    about: 'PUT c50 with 1,000 vs --keys keys stored',
    run: putKeysScenario,
  },
  {
    name: 'startup',
    quick: false,
    pool: false,
    about: 'start-up time and RSS with --startup-keys keys on disk (100k and --keys)',
    run: startupScenario,
  },
  {
    name: 'expiry',
    quick: false,
    pool: false,
    about: 'GET p99 while --keys keys (file store) expire at one instant',
    run: expiryScenario,
  },
  {
    name: 'compaction',
    quick: false,
    pool: false,
    about: 'GET p99 during a file-store compaction copying --keys keys',
    run: compactionScenario,
  },
];

module.exports = { SCENARIOS, FSYNC_POLICIES, firstLine, startPool };
