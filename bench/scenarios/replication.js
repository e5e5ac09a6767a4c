'use strict';

/**
 * replication: what followers cost the leader, and how far behind they fall (issue 15).
 *
 * 1. PUT c50 on an in-memory leader with two in-memory followers attached, interleaved with the
 *    same PUT on an identical leader with none; ratio = with / without (the issue asks >= 0.85).
 * 2. Follower lag while the leader takes PUT c50 for 10 s: the leader's and each follower's
 *    revision (GET /replication) are sampled every 100 ms; a follower at revision f lags by the
 *    time since the leader was at f. The row gives the worst lag seen, in seconds and revisions,
 *    and how long after the load the followers held the leader's last revision (the issue asks
 *    lag < 1 s).
 * 3. Full resync of --keys keys (default 1,000,000): a file-store leader on a generated data
 *    directory, an in-memory follower started next to it; the time from the follower's spawn to
 *    its first copy loaded and streaming, and the copy's own time from its log (target <= 10 s).
 *
 * All five processes and the load generator share the machine's cores, so the ratio also counts
 * the followers' CPU, not only the leader's work for them: quote it with that said.
 */

const { putWorkload, runLoad } = require('../load');
const { fmtInt } = require('../report');
const { httpRequest, sleep } = require('../servers');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');
const { generatedDataDir } = require('./generated-data-dirs');
const { FILE_DEFAULT_ENV, fill, kvLabel, startAll, startKv, stopAll } = require('./targets');

const LAG_LOAD_SEC = 10;
const LAG_SAMPLE_MS = 100;
const CATCH_UP_LIMIT_MS = 30000;
const FULL_RESYNC_LIMIT_MS = 120000;

async function status(server) {
  const res = await httpRequest(server.port, { path: '/replication' });
  if (res.status !== 200)
    throw new Error(`${server.label}: GET /replication answered ${res.status}`);
  return JSON.parse(res.body);
}

async function waitStreaming(followers) {
  const deadline = Date.now() + CATCH_UP_LIMIT_MS;
  for (const follower of followers) {
    while ((await status(follower)).state !== 'streaming') {
      if (Date.now() > deadline) throw new Error(`${follower.label} did not start streaming`);
      await sleep(100);
    }
  }
}

/** Waits until every follower has applied `revision`; returns the ms it took. */
async function catchUp(followers, revision) {
  const started = Date.now();
  for (const follower of followers) {
    while ((await status(follower)).revision < revision) {
      if (Date.now() - started > CATCH_UP_LIMIT_MS) return null;
      await sleep(20);
    }
  }
  return Date.now() - started;
}

async function replicationScenario(ctx) {
  const adapter = ctx.adapters[0];
  const label = kvLabel(ctx, adapter);
  const [alone, leader] = await startAll([
    () => startKv(ctx, adapter, {}, { label: `${label} leader, no followers` }),
    () => startKv(ctx, adapter, {}, { label: `${label} leader, 2 followers` }),
  ]);
  const followers = [];
  const rows = [];
  try {
    for (const n of [1, 2]) {
      followers.push(
        await startKv(
          ctx,
          adapter,
          { REPLICA_OF: leader.url },
          { label: `${label} follower ${n}` },
        ),
      );
    }
    await waitStreaming(followers);
    for (const server of [alone, leader]) await fill(ctx, server, 0, POOL_KEYS);
    const workload = putWorkload(POOL_KEYS);
    const [without, withFollowers] = await interleave(ctx, 'replication-put-c50', [alone, leader], {
      connections: 50,
      workloadFor: () => workload,
      alternate: true,
    });
    rows.push(throughputRow('replication-put-c50', alone, without));
    rows.push(
      throughputRow('replication-put-c50', leader, withFollowers, {
        base: without,
        baseName: 'no followers',
        detail: ['target >= 0.85× no followers (issue 15)'],
      }),
    );

    await catchUp(followers, (await status(leader)).revision);
    // Lag as the leader sees it: a follower at revision f is as far behind as the time since
    // the leader was at f (from the leader's revisions sampled on the same clock).
    const leaderAt = [];
    let worstSeconds = 0;
    let worstRevisions = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [top, ...applied] = await Promise.all(
          [leader, ...followers].map(async (server) => (await status(server)).revision),
        );
        const now = Date.now();
        leaderAt.push([now, top]);
        for (const revision of applied) {
          worstRevisions = Math.max(worstRevisions, top - revision);
          const reached = leaderAt.find(([, at]) => at >= revision);
          const behind = revision >= top || !reached ? 0 : (now - reached[0]) / 1000;
          worstSeconds = Math.max(worstSeconds, behind);
        }
        await sleep(LAG_SAMPLE_MS);
      }
    })();
    const load = await runLoad({
      url: leader.url,
      connections: 50,
      durationSec: LAG_LOAD_SEC,
      workload,
    });
    sampling = false;
    await sampler;
    const caughtUpMs = await catchUp(followers, (await status(leader)).revision);
    const lagRow = throughputRow('replication-lag', leader, { ...load, runs: [load], rssMb: null });
    lagRow.ratioText = `lag max ${worstSeconds.toFixed(2)} s`;
    lagRow.detail = [
      `worst follower lag during ${LAG_LOAD_SEC} s of PUT c50: ${worstSeconds.toFixed(2)} s, ` +
        `${fmtInt(worstRevisions)} revisions (target < 1 s, issue 15)`,
      caughtUpMs === null
        ? `followers not caught up ${CATCH_UP_LIMIT_MS / 1000} s after the load!`
        : `both followers at the leader's revision ${caughtUpMs} ms after the load`,
    ].join('; ');
    lagRow.lagSeconds = worstSeconds;
    lagRow.lagRevisions = worstRevisions;
    lagRow.catchUpMs = caughtUpMs;
    rows.push(lagRow);
  } finally {
    await stopAll([...followers, alone, leader]);
  }
  rows.push(await fullResyncRow(ctx, adapter, label));
  return {
    rows,
    notes: [
      `replication: in-memory leaders over ${fmtInt(POOL_KEYS)} keys, PUT c50; one leader has two in-memory ` +
        "followers (REPLICA_OF), the other none, measured interleaved; the ratio counts the followers' CPU " +
        `too, since every process shares the machine. Lag: GET /replication on each follower every ${LAG_SAMPLE_MS} ms ` +
        `and on the leader while it takes PUT c50 for ${LAG_LOAD_SEC} s; a follower at revision f lags by the time ` +
        'since the leader was at f (sampling rounds the lag up to 100 ms)',
    ],
  };
}

/** A follower's first copy of a leader holding --keys keys. */
async function fullResyncRow(ctx, adapter, label) {
  const keys = ctx.opts.keys;
  const data = await generatedDataDir(ctx, keys);
  const leader = await startKv(ctx, adapter, FILE_DEFAULT_ENV, {
    label: `${label} file leader, ${fmtInt(keys)} keys`,
    seedDir: data.dir,
    readyTimeoutMs: 180000,
  });
  let follower;
  try {
    const spawned = Date.now();
    // LOG_LEVEL=info: the follower logs the copy's size and time.
    follower = await startKv(
      ctx,
      adapter,
      { REPLICA_OF: leader.url, LOG_LEVEL: 'info' },
      { label: `${label} follower`, readyTimeoutMs: FULL_RESYNC_LIMIT_MS },
    );
    let state;
    do {
      state = await status(follower);
      if (Date.now() - spawned > FULL_RESYNC_LIMIT_MS) break;
      if (state.fullResyncs < 1) await sleep(50);
    } while (state.fullResyncs < 1);
    const totalMs = Date.now() - spawned;
    const logged =
      /Full resync from .*?: (\d+) keys at revision \d+, (\d+) characters of entries, in (\d+) ms/.exec(
        follower.outputTail(),
      );
    const row = {
      scenario: 'replication-full-resync',
      server: follower.label,
      rps: null,
      p50: null,
      p99: null,
      rssMb: null,
      ratio: null,
      ratioBase: null,
      ratioText: state.fullResyncs >= 1 ? `${(totalMs / 1000).toFixed(1)} s` : 'not done',
      detail:
        (state.fullResyncs >= 1
          ? `${fmtInt(keys)} keys: ${(totalMs / 1000).toFixed(1)} s from the follower's spawn to the copy loaded` +
            (logged
              ? `, the copy itself ${logged[3]} ms for ${fmtInt(Number(logged[2]))} characters`
              : '')
          : `no full resync within ${FULL_RESYNC_LIMIT_MS / 1000} s!`) +
        ' (target <= 10 s, issue 15)',
      fullResyncMs: logged ? Number(logged[3]) : null,
      spawnToLoadedMs: state.fullResyncs >= 1 ? totalMs : null,
    };
    return row;
  } finally {
    await stopAll([follower, leader].filter(Boolean));
  }
}

module.exports = { replicationScenario };
