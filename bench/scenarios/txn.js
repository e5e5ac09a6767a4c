'use strict';

/**
 * txn-c50: a 4-op transaction (2 compares, 2 puts) at 50 connections against single-key PUT on
 * the same in-memory server, in the same run: transactions/s, and keys written/s against PUT's.
 */

const { putWorkload } = require('../load');
const { keyName, valueFor } = require('../keys');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');

const KEYS_PER_TXN = 2;

/**
 * POST /txn cycling over key pairs (i, i + keyCount/2): both must exist, then both are written
 * with PUT's ~100-byte values. The compares are `exists`, which hold on the preloaded keys
 * whatever the load did before, so every transaction succeeds. Bodies are built once.
 */
function txnWorkload(keyCount) {
  const bodies = Array.from({ length: keyCount }, (_, i) => {
    const keys = [keyName(i), keyName((i + keyCount / 2) % keyCount)];
    return Buffer.from(
      JSON.stringify({
        compare: keys.map((key) => ({ key, exists: true })),
        success: keys.map((key, k) => ({
          op: 'put',
          key,
          value: JSON.parse(valueFor(i + 7 + k)),
        })),
      }),
    );
  });
  return { method: 'POST', keyCount, path: () => '/txn', body: (i) => bodies[i] };
}

/**
 * Every kvstore server of the pool (this checkout's per adapter, then each --baseline build's)
 * runs PUT and txn back to back. A baseline's txn row also says how this checkout's
 * transactions/s on the same adapter compare with it.
 */
async function txnScenario(ctx) {
  const pool = await ctx.pool();
  const put = putWorkload(POOL_KEYS);
  const txn = txnWorkload(POOL_KEYS);
  const servers = [...pool.kv, ...pool.baselines.flatMap((b) => b.kv)];
  const targets = servers.flatMap((server) => [
    { ...server, label: `${server.label} PUT`, workload: put },
    { ...server, label: `${server.label} txn`, workload: txn },
  ]);
  const stats = await interleave(ctx, 'txn-c50', targets, {
    connections: 50,
    workloadFor: (target) => target.workload,
    alternate: true,
  });
  const rows = [];
  for (let i = 0; i < targets.length; i += 2) {
    const [putStat, txnStat] = [stats[i], stats[i + 1]];
    rows.push(throughputRow('txn-c50', targets[i], putStat, { baseName: 'keys/s = req/s' }));
    const keysPerSec = txnStat.rps * KEYS_PER_TXN;
    const detail = [`${Math.round(keysPerSec)} keys written/s (${KEYS_PER_TXN} per transaction)`];
    // CPU per answer leaves out the time the server waited for the CPU, which req/s does not.
    if (putStat.cpuUs && txnStat.cpuUs) {
      const cpuRatio = (KEYS_PER_TXN * putStat.cpuUs) / txnStat.cpuUs;
      detail.push(
        `server CPU ${Math.round(txnStat.cpuUs)} µs/txn vs ${Math.round(putStat.cpuUs)} µs/PUT: ` +
          `${cpuRatio.toFixed(2)}× PUT's keys per CPU-second`,
      );
    }
    const server = i / 2;
    if (server >= pool.kv.length) {
      const current = stats[2 * (server % pool.kv.length) + 1];
      const build = pool.baselines[Math.floor((server - pool.kv.length) / pool.kv.length)].build;
      if (current.rps && txnStat.rps)
        detail.push(`this checkout's txn/s is ${(current.rps / txnStat.rps).toFixed(2)}× it`);
      if (current.cpuUs && txnStat.cpuUs)
        detail.push(
          `its CPU per txn ${(txnStat.cpuUs / current.cpuUs).toFixed(2)}× this checkout's`,
        );
      detail.push(`${build.commit}: ${build.subject}`);
    }
    const row = throughputRow('txn-c50', targets[i + 1], txnStat, { detail });
    if (putStat.rps) {
      row.ratio = keysPerSec / putStat.rps;
      row.ratioBase = 'single-key PUT, keys written/s';
      row.ratioText = `${row.ratio.toFixed(2)}× PUT keys/s`;
    }
    row.keysPerSec = keysPerSec;
    rows.push(row);
  }
  return {
    rows,
    notes: [
      `POST /txn with 2 compares (exists) and 2 puts of ~100-byte values over ${POOL_KEYS} preloaded keys, ` +
        'interleaved with single-key PUT on the same in-memory server; req/s of the txn row is transactions/s, ' +
        'the ratio compares keys written per second (aim: at least 1.5x PUT)',
    ],
  };
}

module.exports = { txnScenario, txnWorkload };
