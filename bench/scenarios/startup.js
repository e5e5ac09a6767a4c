'use strict';

/** startup: start-up time and RSS with 100 thousand and a million keys on disk. */

const { keyName } = require('../load');
const { fmtBytes, fmtInt, fmtMs } = require('../report');
const { httpRequest, rssMb, sleep, stopServer } = require('../servers');
const { shortCount } = require('./format');
const { generatedDataDir, generatedNote } = require('./generated-data-dirs');
const { FILE_DEFAULT_ENV, isSelfTest, kvLabel, startKv } = require('./targets');

async function startupScenario(ctx) {
  if (isSelfTest(ctx)) {
    return {
      rows: [],
      notes: [],
      status: 'n/a',
      reason: 'the reference server has no DATA_DIR to load (--target=reference)',
    };
  }
  // Generated before any server starts, so that generating competes with no start-up.
  const generated = [];
  for (const keys of ctx.opts.startupKeys) generated.push(await generatedDataDir(ctx, keys));
  const rows = [];
  for (const adapter of ctx.adapters) {
    const label = `${kvLabel(ctx, adapter)} file`;
    const empty = await emptyStart(ctx, adapter, label);
    for (const data of generated) rows.push(await loadedStart(ctx, adapter, label, data, empty));
  }
  const notes = [
    'STORAGE=file FSYNC=everysec, each start on a fresh copy of the generated DATA_DIR (page cache warm: it was ' +
      'just written); start-up = spawn to the first 200 from GET /health (GET /keys?limit=1 where /health is ' +
      "missing); RSS 200 ms after the last key was read; RSS per key = (RSS - an empty start's RSS) / keys",
    generatedNote(generated),
  ];
  return { rows, notes };
}

/** An empty store's start: the baseline for start-up time and for RSS per key. */
async function emptyStart(ctx, adapter, label) {
  const server = await startKv(ctx, adapter, FILE_DEFAULT_ENV, { label });
  try {
    // The same as a loaded start goes through before its RSS is read: one GET, then 200 ms.
    await httpRequest(server.port, { path: `/key/${keyName(0)}` }).catch(() => null);
    await sleep(200);
    const empty = { startMs: server.startMs, rssMb: rssMb(server.pid) };
    ctx.log(
      `${label}: empty start ready in ${fmtMs(empty.startMs)} ms, RSS ${fmtInt(empty.rssMb)} MB`,
    );
    return empty;
  } finally {
    await stopServer(server);
  }
}

/** Starts on a copy of the generated directory; times ready and the last key, then SIGTERM. */
async function loadedStart(ctx, adapter, label, data, empty) {
  const { keys } = data;
  const server = await startKv(ctx, adapter, FILE_DEFAULT_ENV, {
    label,
    seedDir: data.dir,
    readyTimeoutMs: 180000,
  });
  let measured;
  let stopped;
  try {
    // Ready is not the same as loaded if the server loads lazily: also time the first read of
    // the last key, which only a fully recovered store can answer.
    const readMs = await msUntil200(server, `/key/${keyName(keys - 1)}`, 30000);
    await sleep(200);
    measured = { readyMs: server.startMs, readMs, rss: rssMb(server.pid) };
  } finally {
    stopped = await stopServer(server, { timeoutMs: 60000 });
  }
  const { readyMs, readMs, rss } = measured;
  ctx.log(
    `${label}: ready in ${fmtMs(readyMs)} ms with ${fmtInt(keys)} keys, RSS ${fmtInt(rss)} MB`,
  );
  const rssPerKey =
    rss !== null && empty.rssMb !== null ? ((rss - empty.rssMb) * 1024 * 1024) / keys : null;
  const detail = [
    `ready in ${fmtInt(readyMs)} ms with ${fmtInt(keys)} keys on disk (${fmtBytes(data.bytes)}${data.compacted ? ' snapshot' : ' log'})`,
    `empty start ${fmtInt(empty.startMs)} ms`,
    Number.isFinite(readMs)
      ? `last key readable at ${fmtInt(readMs)} ms`
      : 'LAST KEY NOT FOUND after start: data not recovered?',
    rssPerKey === null
      ? 'RSS per key unknown'
      : `RSS +${fmtInt(rss - empty.rssMb)} MB over an empty start (~${fmtInt(rssPerKey)} B per key)`,
    `SIGTERM→exit ${fmtInt(stopped.stopMs)} ms${stopped.forced ? ' (killed after 60 s)' : ''}`,
  ];
  if (server.readyPath !== '/health') detail.push(`no /health: ready = ${server.readyPath}`);
  return {
    scenario: `startup@${shortCount(keys)}`,
    server: label,
    rps: null,
    p50: null,
    p99: null,
    rssMb: rss,
    startMs: readyMs,
    emptyStartMs: empty.startMs,
    emptyRssMb: empty.rssMb,
    rssPerKeyBytes: rssPerKey,
    firstReadMs: Number.isFinite(readMs) ? readMs : null,
    stopMs: stopped.stopMs,
    readyPath: server.readyPath,
    keys,
    diskBytes: data.bytes,
    generatedMs: data.elapsedMs,
    ratio: readyMs / empty.startMs,
    ratioBase: 'empty start',
    ratioText: `${(readyMs / empty.startMs).toFixed(1)}× empty`,
    detail: detail.join('; '),
  };
}

/** Milliseconds from the server's spawn until GET urlPath answers 200, or Infinity. */
async function msUntil200(server, urlPath, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const res = await httpRequest(server.port, { path: urlPath, timeoutMs: 10000 }).catch(() => ({
      status: 0,
    }));
    if (res.status === 200) return performance.now() - server.spawnedAt;
    if (performance.now() > deadline) return Infinity;
    await sleep(20);
  }
}

module.exports = { startupScenario };
