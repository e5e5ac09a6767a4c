'use strict';

/**
 * The pool: the reference, the teaching store, kvstore per adapter in memory (and each
 * --baseline build per adapter), 10,000 keys each, kept running across the GET/PUT scenarios,
 * with the framework floor per adapter when a scenario shows it; and, when put-file runs, its
 * file-store servers (the baselines' too), started and filled at the same time so that their
 * start-up and preload overlap with the others'. With --also-node, each in-memory server also
 * runs on that Node binary (its twin), where it starts at all.
 */

const { firstLine } = require('./format');
const { fmtMs } = require('../report');
const { stopServer } = require('../servers');
const {
  baselineLabel,
  fill,
  kvLabel,
  settleWithLimit,
  startAll,
  startFloor,
  startKv,
  startReference,
  startTeaching,
  stopAll,
} = require('./targets');

/** Keys preloaded for the GET/PUT scenarios. */
const POOL_KEYS = 10000;
const FSYNC_POLICIES = ['always', 'everysec', 'no'];
/**
 * @param {string[]} filePolicies FSYNC policies put-file will measure (may be empty)
 * @param {string[]} floorAdapters adapters to start nest-floor-server.js on (may be empty)
 * @returns {Promise<{reference, kv: object[], floor: object[], file: Map<string, object>, fileErrors: Map<string, Error>}>}
 */
async function startPool(ctx, filePolicies, floorAdapters = []) {
  // All started at once, so their start-ups overlap. A file server that cannot start fails
  // put-file only, not every scenario that needs the pool.
  const builds = [null, ...ctx.baselines];
  const fileSpecs = builds.flatMap((build) =>
    ctx.adapters.flatMap((adapter) =>
      filePolicies.map((fsync) => ({ build, adapter, fsync, key: fileKey(adapter, fsync, build) })),
    ),
  );
  const fileStarting = Promise.allSettled(
    fileSpecs.map(({ build, adapter, fsync }) =>
      startKv(
        ctx,
        adapter,
        { STORAGE: 'file', FSYNC: fsync },
        {
          label: `${build ? baselineLabel(build, adapter) : kvLabel(ctx, adapter)} file/${fsync}`,
          build,
        },
      ),
    ),
  );
  // The in-memory servers, on the project's Node or (node given) on --also-node's.
  const memoryStarters = (node) => [
    () => startReference(ctx, 0, node),
    () => startTeaching(ctx, node),
    ...ctx.adapters.map((adapter) => () => startKv(ctx, adapter, {}, { node })),
    ...ctx.baselines.flatMap((build) =>
      ctx.adapters.map((adapter) => () => startKv(ctx, adapter, {}, { build, node })),
    ),
    ...floorAdapters.map((adapter) => () => startFloor(ctx, adapter, node)),
  ];
  const memoryStarting = startAll(memoryStarters());
  // A twin that cannot start on the other Node (a build that needs a newer one) costs its row
  // only. Twins start once the others are up: ten Nest servers starting at once on the two
  // loaded cores took kvstore past its 30 s start-up limit.
  const twinsStarting = ctx.otherNode
    ? memoryStarting.then(
        () => Promise.allSettled(memoryStarters(ctx.otherNode).map((start) => start())),
        () => [],
      )
    : Promise.resolve([]);
  const [fileStarts, twinStarts, memory] = await Promise.all([
    fileStarting,
    twinsStarting,
    memoryStarting.catch(async (error) => {
      const started = [...(await fileStarting), ...(await twinsStarting)];
      await stopAll(started.filter((f) => f.status === 'fulfilled').map((f) => f.value));
      throw error;
    }),
  ]);
  /** Per twin: the server on the other Node and the same server (`of`) on the project's. */
  const twins = [];
  const twinErrors = [];
  twinStarts.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') twins.push({ server: outcome.value, of: memory[i] });
    else
      twinErrors.push(
        `${memory[i].label} @${ctx.otherNode.version}: ${firstLine(outcome.reason.message)}`,
      );
  });
  const file = new Map();
  const fileErrors = new Map();
  fileStarts.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') file.set(fileSpecs[i].key, outcome.value);
    else fileErrors.set(fileSpecs[i].key, outcome.reason);
  });
  const servers = [...memory, ...file.values(), ...twins.map((twin) => twin.server)];
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
  twins.forEach((twin, i) => {
    const outcome = fills[servers.length - twins.length + i];
    if (outcome.status === 'rejected') {
      twinErrors.push(`${twin.server.label}: ${firstLine(outcome.reason.message)}`);
      stopServer(twin.server).catch(() => undefined);
      twin.failed = true;
    }
  });
  const liveTwins = twins.filter((twin) => !twin.failed);
  const kvCount = ctx.adapters.length;
  const baselineCount = ctx.baselines.length * kvCount;
  return {
    reference: memory[0],
    teaching: memory[1],
    kv: memory.slice(2, 2 + kvCount),
    /** Per baseline build, its servers in ctx.adapters' order. */
    baselines: ctx.baselines.map((build, b) => ({
      build,
      kv: memory.slice(2 + kvCount + b * kvCount, 2 + kvCount + (b + 1) * kvCount),
    })),
    floor: memory.slice(2 + kvCount + baselineCount),
    file,
    fileErrors,
    twins: liveTwins,
    twinErrors,
    all: () => [...memory, ...file.values(), ...liveTwins.map((twin) => twin.server)],
  };
}

const fileKey = (adapter, fsync, build = null) =>
  `${build ? `${build.name} ` : ''}${adapter || 'default'}/${fsync}`;

module.exports = { FSYNC_POLICIES, POOL_KEYS, fileKey, startPool };
