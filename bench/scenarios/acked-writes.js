'use strict';

/**
 * acked-writes: what WRITE_REPLICAS=1 costs (issue 16). Two in-memory leaders, each with one
 * in-memory follower; one leader has WRITE_REPLICAS=1 (every PUT answers once the follower
 * acknowledged it), the other replicates asynchronously. PUT c50 on both, interleaved; ratio =
 * acknowledged / asynchronous (the issue asks >= 0.5). Acknowledgements are group-committed,
 * so the 50 writes in flight share the follower's round trips: without that the ratio would be
 * that of one round trip per write. All five processes share the machine's cores.
 */

const { putWorkload } = require('../load');
const { fmtInt } = require('../report');
const { httpRequest, sleep } = require('../servers');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');
const { fill, kvLabel, startAll, startKv, stopAll } = require('./targets');

const CONNECT_LIMIT_MS = 30000;

/** Waits until the leader lists a connected follower that has acknowledged. */
async function waitFollower(leader) {
  const deadline = Date.now() + CONNECT_LIMIT_MS;
  for (;;) {
    const res = await httpRequest(leader.port, { path: '/replication' });
    const followers = res.status === 200 ? JSON.parse(res.body).followers : [];
    if (followers.some((f) => f.connected)) return;
    if (Date.now() > deadline) throw new Error(`${leader.label}: no follower connected`);
    await sleep(100);
  }
}

async function ackedWritesScenario(ctx) {
  const adapter = ctx.adapters[0];
  const label = kvLabel(ctx, adapter);
  const [asynchronous, acknowledged] = await startAll([
    () => startKv(ctx, adapter, {}, { label: `${label} leader, asynchronous follower` }),
    () =>
      startKv(
        ctx,
        adapter,
        { WRITE_REPLICAS: '1', REPLICA_ACK_TIMEOUT_MS: '10000' },
        { label: `${label} leader, WRITE_REPLICAS=1` },
      ),
  ]);
  const followers = [];
  const rows = [];
  try {
    for (const leader of [asynchronous, acknowledged]) {
      followers.push(
        await startKv(
          ctx,
          adapter,
          { REPLICA_OF: leader.url },
          { label: `${leader.label}: its follower` },
        ),
      );
      await waitFollower(leader);
    }
    for (const leader of [asynchronous, acknowledged]) await fill(ctx, leader, 0, POOL_KEYS);
    const workload = putWorkload(POOL_KEYS);
    const [without, withAcks] = await interleave(
      ctx,
      'acked-writes-put-c50',
      [asynchronous, acknowledged],
      { connections: 50, workloadFor: () => workload, alternate: true },
    );
    rows.push(throughputRow('acked-writes-put-c50', asynchronous, without));
    rows.push(
      throughputRow('acked-writes-put-c50', acknowledged, withAcks, {
        base: without,
        baseName: 'asynchronous',
        detail: ['target >= 0.5× asynchronous (issue 16)'],
      }),
    );
  } finally {
    await stopAll([...followers, asynchronous, acknowledged]);
  }
  return {
    rows,
    notes: [
      `acked-writes: two in-memory leaders over ${fmtInt(POOL_KEYS)} keys, each with one in-memory follower; ` +
        'one with WRITE_REPLICAS=1, the other asynchronous; PUT c50 measured interleaved. The ratio counts ' +
        "the followers' CPU too, since every process shares the machine",
    ],
  };
}

module.exports = { ackedWritesScenario };
