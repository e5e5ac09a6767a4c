'use strict';

/** get-c1, get-c50, put-c1, put-c50: GET or PUT on the pool's in-memory servers. */

const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');
const { fmtMs } = require('../report');
const { serverNode } = require('../server-node');

const times = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : null);

/**
 * GET or PUT in memory: the reference, the teaching store, kvstore per adapter, each --baseline
 * build per adapter and, unless --floor=off, the framework floor per adapter, interleaved.
 * A kvstore row also says how it compares with the teaching store (throughput, and the latency
 * the targets name: p50 at one connection, p99 at fifty) and with the floor on its
 * adapter: the part of the distance to the reference that NestJS does not explain. A baseline
 * row says how it compares with this checkout's kvstore on the same adapter. With --also-node,
 * every one of them also runs on that Node, interleaved with the rest, and its row says how the
 * same server on the project's Node compares with it: what the runtime alone changes.
 */
function memoryScenario(name, connections, makeWorkload) {
  return async (ctx) => {
    const pool = await ctx.pool();
    const baselineServers = pool.baselines.flatMap((b) => b.kv);
    const ownTargets = [
      pool.reference,
      pool.teaching,
      ...pool.kv,
      ...baselineServers,
      ...pool.floor,
    ];
    // Each twin runs right after the same server on the project's Node, so that the machine's
    // drift falls on both alike.
    const twinOf = new Map(pool.twins.map((twin) => [twin.of, twin.server]));
    const targets = ownTargets.flatMap((t) => (twinOf.has(t) ? [t, twinOf.get(t)] : [t]));
    const workload = makeWorkload(POOL_KEYS);
    const measured = await interleave(ctx, name, targets, {
      connections,
      workloadFor: () => workload,
    });
    const statOf = new Map(targets.map((t, i) => [t, measured[i]]));
    const stats = ownTargets.map((t) => statOf.get(t));
    const [ref, teaching] = stats;
    const kvStats = stats.slice(2, 2 + pool.kv.length);
    const baselineStats = stats.slice(
      2 + pool.kv.length,
      2 + pool.kv.length + baselineServers.length,
    );
    const floorStats = stats.slice(2 + pool.kv.length + baselineServers.length);
    const floorStat = (adapter) => {
      const i = pool.floor.findIndex((f) => f.label === `nest-floor/${adapter || 'express'}`);
      return i === -1 ? null : floorStats[i];
    };
    const latency = connections === 1 ? 'p50' : 'p99';
    const againstTeaching = (stat) =>
      teaching.rps
        ? [
            `${times(stat.rps, teaching.rps)} teaching-store, ${latency} ${times(stat[latency], teaching[latency])} its` +
              (stat.cpuUs && teaching.cpuUs
                ? `, CPU per answer ${times(stat.cpuUs, teaching.cpuUs)} its`
                : ''),
          ]
        : [];
    const againstFloor = (stat, adapter) => {
      const floor = floorStat(adapter);
      return floor && floor.rps
        ? [
            `${times(stat.rps, floor.rps)} nest-floor/${adapter || 'express'}` +
              (stat.cpuUs && floor.cpuUs
                ? ` (CPU per answer ${times(stat.cpuUs, floor.cpuUs)} its)`
                : ''),
          ]
        : [];
    };

    const rows = [throughputRow(name, pool.reference, ref, { baseName: 'ceiling' })];
    const logged = pool.teaching.stdoutBytes();
    rows.push(
      throughputRow(name, pool.teaching, teaching, {
        base: ref,
        baseName: 'ref',
        detail: [
          'the classic store: raw node:http + Map, a console.log line per operation to a drained pipe',
          ...(logged === 0 ? ['NOTHING LOGGED: is its stdout the pipe?'] : []),
        ],
      }),
    );
    pool.kv.forEach((server, i) => {
      const stat = kvStats[i];
      const detail = [...againstTeaching(stat), ...againstFloor(stat, ctx.adapters[i])];
      rows.push(throughputRow(name, server, stat, { base: ref, baseName: 'ref', detail }));
    });
    pool.baselines.forEach(({ build, kv }, b) => {
      kv.forEach((server, i) => {
        const stat = baselineStats[b * pool.kv.length + i];
        const current = kvStats[i];
        const detail = [
          ...(current.rps ? [`this checkout is ${times(current.rps, stat.rps)} it`] : []),
          ...(current.cpuUs && stat.cpuUs
            ? [`CPU per answer ${times(current.cpuUs, stat.cpuUs)} its`]
            : []),
          ...againstTeaching(stat),
          `${build.commit}: ${build.subject}`,
        ];
        rows.push(throughputRow(name, server, stat, { base: ref, baseName: 'ref', detail }));
      });
    });
    pool.floor.forEach((server, i) => {
      const stat = floorStats[i];
      const detail = [
        `minimal NestJS ${ctx.nestVersion} app over a Map (bench/nest-floor-server.js)`,
      ];
      // Two servers as fast as each other are most likely both waiting on the load generator,
      // which shares the two cores: then the ceiling is autocannon's, not node:http's.
      if (ref.rps && stat.rps >= 0.95 * ref.rps)
        detail.push('as fast as the reference: both probably held back by the load generator');
      rows.push(throughputRow(name, server, stat, { base: ref, baseName: 'ref', detail }));
    });
    const projectNode = serverNode().version;
    pool.twins.forEach((twin) => {
      const stat = statOf.get(twin.server);
      const same = statOf.get(twin.of);
      const detail =
        same.rps && stat.rps
          ? [
              `${twin.of.label} on ${projectNode} is ${times(same.rps, stat.rps)} it, ${latency} ${fmtMs(same[latency])} against ${fmtMs(stat[latency])} ms`,
              ...(same.cpuUs && stat.cpuUs
                ? [`CPU per answer ${times(same.cpuUs, stat.cpuUs)} its`]
                : []),
            ]
          : [];
      rows.push(throughputRow(name, twin.server, stat, { base: ref, baseName: 'ref', detail }));
    });
    const notes = pool.twinErrors.map((error) => `not measured on the other Node: ${error}`);
    return { rows, notes };
  };
}

module.exports = { memoryScenario };
