'use strict';

/** put-file: PUT with STORAGE=file under each FSYNC policy, against in-memory PUT in the same run. */

const { putWorkload } = require('../load');
const { fmtBytes } = require('../report');
const { dirBytes } = require('../servers');
const { firstLine } = require('./format');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS, fileKey } = require('./pool');
const { baselineLabel, kvLabel } = require('./targets');

async function putFileScenario(ctx) {
  const pool = await ctx.pool();
  const rows = [];
  const notes = [];
  const workload = putWorkload(POOL_KEYS);
  for (let a = 0; a < ctx.adapters.length; a += 1) {
    const adapter = ctx.adapters[a];
    // This checkout's build, then each --baseline build, measured in one interleaved set.
    const builds = [
      { build: null, memory: pool.kv[a], label: kvLabel(ctx, adapter) },
      ...pool.baselines.map(({ build, kv }) => ({
        build,
        memory: kv[a],
        label: baselineLabel(build, adapter),
      })),
    ];
    const groups = builds.map(({ build, memory, label }) => {
      const fileServers = [];
      for (const fsync of ctx.filePolicies) {
        const server = pool.file.get(fileKey(adapter, fsync, build));
        if (server) fileServers.push({ fsync, server });
        else {
          const error = pool.fileErrors.get(fileKey(adapter, fsync, build));
          rows.push({
            scenario: 'put-file-c50',
            server: `${label} file/${fsync}`,
            ratioText: 'error',
            detail: error ? firstLine(error.message) : 'not started',
          });
        }
      }
      return { memory, label, fileServers };
    });
    if (groups[0].fileServers.length === 0) continue;
    const targets = groups.flatMap((g) => [g.memory, ...g.fileServers.map((f) => f.server)]);
    const stats = await interleave(ctx, 'put-file', targets, {
      connections: 50,
      workloadFor: () => workload,
    });
    let at = 0;
    const current = new Map();
    groups.forEach((group, g) => {
      const memoryStat = stats[at];
      at += 1;
      const compared = (key, stat) => {
        if (g === 0) current.set(key, stat);
        const mine = current.get(key);
        return g > 0 && mine && mine.rps && stat.rps
          ? [`this checkout is ${(mine.rps / stat.rps).toFixed(2)}× it`]
          : [];
      };
      rows.push(
        throughputRow('put-file-c50', { label: `${group.label} memory` }, memoryStat, {
          baseName: 'base',
          detail: compared('memory', memoryStat),
        }),
      );
      for (const { fsync, server } of group.fileServers) {
        const stat = stats[at];
        at += 1;
        const onDisk = dirBytes(server.dataDir);
        const detail = [...compared(fsync, stat), `DATA_DIR ${fmtBytes(onDisk)} after the runs`];
        if (onDisk === 0) detail.push('nothing written to DATA_DIR: is STORAGE=file honoured?');
        rows.push(
          throughputRow('put-file-c50', server, stat, {
            base: memoryStat,
            baseName: 'mem',
            detail,
          }),
        );
      }
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

module.exports = { putFileScenario };
