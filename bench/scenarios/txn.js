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

async function txnScenario(ctx) {
  const pool = await ctx.pool();
  const put = putWorkload(POOL_KEYS);
  const txn = txnWorkload(POOL_KEYS);
  const targets = pool.kv.flatMap((server) => [
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
    const row = throughputRow('txn-c50', targets[i + 1], txnStat, {
      detail: [`${Math.round(keysPerSec)} keys written/s (${KEYS_PER_TXN} per transaction)`],
    });
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
