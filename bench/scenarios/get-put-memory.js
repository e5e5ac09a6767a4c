'use strict';

/** get-c1, get-c50, put-c1, put-c50: GET or PUT on the pool's in-memory servers. */

const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');

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

module.exports = { memoryScenario };
