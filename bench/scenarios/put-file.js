'use strict';

/** put-file: PUT with STORAGE=file under each FSYNC policy, against in-memory PUT in the same run. */

const { putWorkload } = require('../load');
const { fmtBytes } = require('../report');
const { dirBytes } = require('../servers');
const { firstLine } = require('./format');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS, fileKey } = require('./pool');
const { kvLabel } = require('./targets');

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

module.exports = { putFileScenario };
