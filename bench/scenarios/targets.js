'use strict';

/**
 * Starting and stopping the servers a scenario measures (kvstore, the reference server, the
 * framework floor), filling them over HTTP and checking what they hold.
 */

const { keyName, valueFor } = require('../load');
const { preload } = require('../preload');
const { fmtInt } = require('../report');
const { httpRequest, startServer, stopServer } = require('../servers');

/** kvstore's durable default: what the file-store scenarios run with. */
const FILE_DEFAULT_ENV = { STORAGE: 'file', FSYNC: 'everysec' };

/** --target=reference puts the reference server in kvstore's slot: it has no DATA_DIR to load. */
const isSelfTest = (ctx) => ctx.kvstoreEntry === ctx.referenceEntry;
const kvLabel = (ctx, adapter) => (adapter ? `${ctx.kvName}/${adapter}` : ctx.kvName);
/** A server on --also-node's binary: `teaching-store @v20.20.2`. */
const nodeLabel = (label, node) => (node ? `${label} @${node.version}` : label);

/**
 * kvstore on one adapter (null: the server's default), in memory unless `env` says otherwise.
 * @param {{label?: string, seedDir?: string, readyTimeoutMs?: number, build?: object, node?: object}} [extra]
 *   build: one of ctx.baselines, an older build run instead of this checkout's (from its own
 *   directory, so that it loads its own node_modules); node: another Node binary (--also-node)
 */
function startKv(ctx, adapter, env = {}, extra = {}) {
  const { build, node } = extra;
  return startServer({
    label: nodeLabel(
      extra.label || (build ? baselineLabel(build, adapter) : kvLabel(ctx, adapter)),
      node,
    ),
    node,
    entry: build ? build.entry : ctx.kvstoreEntry,
    cwd: build ? build.dir : ctx.root,
    env: {
      LOG_LEVEL: ctx.opts.logLevel,
      STORAGE: 'memory',
      HTTP_ADAPTER: adapter || undefined,
      ...env,
    },
    seedDir: extra.seedDir,
    readyTimeoutMs: extra.readyTimeoutMs,
  });
}

/** The reference server, holding keys [0, prefillKeys) from the start when asked. */
function startReference(ctx, prefillKeys = 0, node = undefined) {
  return startServer({
    label: nodeLabel('reference', node),
    node,
    entry: ctx.referenceEntry,
    cwd: ctx.root,
    env: prefillKeys > 0 ? { PREFILL_KEYS: String(prefillKeys) } : {},
    readyTimeoutMs: 60000,
  });
}

/** A baseline build's rows: `kvstore@3242df3/fastify`. */
const baselineLabel = (build, adapter) => (adapter ? `${build.name}/${adapter}` : build.name);

/**
 * The classic teaching store (teaching-store-server.js), with its log line per operation going
 * to a pipe the harness drains.
 */
function startTeaching(ctx, node = undefined) {
  return startServer({
    label: nodeLabel('teaching-store', node),
    node,
    entry: ctx.teachingEntry,
    cwd: ctx.root,
    drainStdout: true,
  });
}

/**
 * The framework floor (nest-floor-server.js): the minimal NestJS app over a Map, on one adapter.
 */
function startFloor(ctx, adapter, node = undefined) {
  return startServer({
    label: nodeLabel(`nest-floor/${adapter}`, node),
    node,
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

/** Writes keys [from, to) with their standard values over HTTP. */
async function fill(ctx, server, from, to) {
  const result = await preload({
    port: server.port,
    from,
    to,
    path: (i) => `/key/${keyName(i)}`,
    body: valueFor,
  });
  ctx.log(
    `${server.label}: stored keys ${fmtInt(from)}..${fmtInt(from + result.written)} in ${(result.elapsedMs / 1000).toFixed(1)} s ` +
      `(${fmtInt(result.rate)}/s)`,
  );
  return result;
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

module.exports = {
  FILE_DEFAULT_ENV,
  baselineLabel,
  fill,
  isSelfTest,
  kvLabel,
  missingKeys,
  settleWithLimit,
  startAll,
  startFloor,
  startKv,
  startReference,
  startTeaching,
  stopAll,
};
