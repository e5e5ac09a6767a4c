'use strict';

/**
 * put-keys: PUT with a thousand keys stored against the large key count: kvstore with
 * STORAGE=file (FSYNC=everysec) on generated data directories on both sides, the reference
 * prefilled.
 */

const { putWorkload } = require('../load');
const { fmtInt, fmtMs } = require('../report');
const { shortCount } = require('./format');
const { generatedDataDir, generatedNote } = require('./generated-data-dirs');
const { interleave, throughputRow } = require('./interleave');
const {
  FILE_DEFAULT_ENV,
  isSelfTest,
  kvLabel,
  missingKeys,
  startAll,
  startKv,
  startReference,
  stopAll,
} = require('./targets');

/** The "thousand keys" side of put-keys. */
const SMALL_KEYS = 1000;

async function putKeysScenario(ctx) {
  const big = ctx.opts.keys;
  const selfTest = isSelfTest(ctx);
  const counts = [SMALL_KEYS, big];
  const data = new Map();
  if (!selfTest) {
    // Generated before any server starts, so that generating competes with no measurement.
    for (const keys of counts) data.set(keys, await generatedDataDir(ctx, keys));
  }
  // Both counts run side by side and are measured interleaved (1k and large alternate), so
  // "× its 1k figure" does not take in the drift of a shared machine between two phases.
  const [small, large] = await putWithKeys(ctx, counts, data);

  // What each server holds, for the detail column: kvstore on its file store, the reference
  // in its Map.
  const holding = (i, keys) =>
    `${fmtInt(keys)} keys${i === 0 || selfTest ? '' : ', FSYNC=everysec'}`;
  const rows = [];
  small.forEach((s, i) => {
    const detail = [...s.problems, holding(i, SMALL_KEYS)];
    const options =
      i === 0 ? { baseName: 'ceiling', detail } : { base: small[0].stat, baseName: 'ref', detail };
    rows.push(throughputRow('put-keys@1k', s, s.stat, options));
  });
  large.forEach((l, i) => {
    const detail = [...l.problems, holding(i, big)];
    if (small[i].stat.rps)
      detail.push(`${(l.stat.rps / small[i].stat.rps).toFixed(2)}× its 1k figure`);
    if (l.stat.rssMb !== null && small[i].stat.rssMb !== null) {
      const perKey = ((l.stat.rssMb - small[i].stat.rssMb) * 1024 * 1024) / (big - SMALL_KEYS);
      detail.push(`~${fmtInt(perKey)} B RSS per key`);
    }
    const options =
      i === 0 ? { baseName: 'ceiling', detail } : { base: large[0].stat, baseName: 'ref', detail };
    rows.push(throughputRow(`put-keys@${shortCount(big)}`, l, l.stat, options));
  });

  const notes = [
    (selfTest
      ? 'every server prefilled in-process (PREFILL_KEYS)'
      : 'kvstore runs with STORAGE=file FSYNC=everysec (the default durable policy) at both counts, each server on ' +
        'its own copy of a generated DATA_DIR; the reference server holds as many keys in its Map (PREFILL_KEYS)') +
      `. The ${fmtInt(SMALL_KEYS)}-key and ${fmtInt(big)}-key servers run side by side, measured interleaved; every ` +
      'PUT updates a stored key (c50 cycling over all of them); RSS per key = (RSS at the large count - at 1k) / extra keys',
  ];
  if (!selfTest) notes.push(generatedNote([...data.values()]));
  return { rows, notes };
}

/**
 * Starts, for each key count, the reference and kvstore per adapter holding that many keys, and
 * measures PUT c50 cycling over each server's keys, all interleaved. Returns per count, per
 * server (reference first) its label, stats and what is wrong.
 */
async function putWithKeys(ctx, counts, data) {
  const specs = counts.flatMap((keys) => [
    { keys, start: () => startReference(ctx, keys) },
    ...ctx.adapters.map((adapter) => ({
      keys,
      start: data.has(keys)
        ? () =>
            startKv(ctx, adapter, FILE_DEFAULT_ENV, {
              label: `${kvLabel(ctx, adapter)} file`,
              seedDir: data.get(keys).dir,
              readyTimeoutMs: 180000,
            })
        : () => startKv(ctx, adapter, { PREFILL_KEYS: String(keys) }, { readyTimeoutMs: 60000 }),
    })),
  ]);
  const servers = await startAll(specs.map((spec) => spec.start));
  try {
    // The same labels at both counts: the count tells them apart in the progress lines.
    const targets = servers.map((server, i) => ({
      label: `${server.label} @${shortCount(specs[i].keys)}`,
      url: server.url,
      pid: server.pid,
      workload: putWorkload(specs[i].keys),
    }));
    for (const [i, server] of servers.entries())
      ctx.log(`${targets[i].label}: ready in ${fmtMs(server.startMs)} ms`);
    const missing = [];
    for (const [i, server] of servers.entries())
      missing.push(await missingKeys(server, specs[i].keys));
    const stats = await interleave(ctx, 'put-keys', targets, {
      connections: 50,
      workloadFor: (target) => target.workload,
    });
    const results = counts.map(() => []);
    for (const [i, server] of servers.entries()) {
      const problems = [];
      if (missing[i].length > 0)
        problems.push(`${missing[i].join(', ')} NOT FOUND before the runs!`);
      // A server that died mid-run otherwise shows only as connection errors.
      if (server.hasExited()) {
        const exit = await server.exitPromise;
        problems.push(`EXITED during the runs (code ${exit.code}, signal ${exit.signal})`);
      }
      results[counts.indexOf(specs[i].keys)].push({
        label: server.label,
        stat: stats[i],
        problems,
      });
    }
    return results;
  } finally {
    await stopAll(servers);
  }
}

module.exports = { putKeysScenario };
