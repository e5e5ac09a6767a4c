'use strict';

/** expiry: GET p99 while the large key count expires at one instant T. */

const { getWorkload, runLoad } = require('../load');
const { fmtInt, fmtMs } = require('../report');
const { dirBytes, httpRequest, removeTempDir, rssMb, sleep, stopServer } = require('../servers');
const { EVENT_CONNECTIONS, EVENT_WARMUP_MS } = require('./event-latency');
const { expiryMissedRow, expiryRow } = require('./expiry-row');
const { generateDataDir, generatedNote } = require('./generated-data-dirs');
const { FILE_DEFAULT_ENV, isSelfTest, kvLabel, startKv } = require('./targets');

/**
 * How far ahead of the start of generation T is set: generating the directory (~9-10 µs a key
 * on the 2-core machine), copying it and starting kvstore on it (~4 µs a key) must fit before
 * T - 1 s. With 1M keys that is ~14 s of a 28 s lead: a machine twice as slow still makes it,
 * with a shorter warm-up. The rest of the lead is idle time that the full run's ten-minute
 * budget pays for twice (once per adapter), so it is not larger.
 */
const EXPIRY_LEAD_US_PER_KEY = 22;
const EXPIRY_LEAD_FIXED_MS = 6000;
/** Measured before T. */
const EXPIRY_BEFORE_MS = 2000;
/** The run goes on until the sweep is over, at least this long after T... */
const EXPIRY_AFTER_MIN_MS = 4000;
/** ...and at most this long. */
const EXPIRY_AFTER_MAX_MS = 30000;
/** The sweep is taken as over once the log has not grown for this long. */
const SWEEP_QUIET_MS = 1000;

async function expiryScenario(ctx) {
  const selfTest = isSelfTest(ctx);
  const rows = [];
  const generated = [];
  for (const adapter of ctx.adapters) rows.push(await expiryRun(ctx, adapter, generated));
  const notes = [
    (selfTest
      ? 'the reference server in the kvstore slot, prefilled with every key expiring at T (PREFILL_KEYS, PREFILL_EXPIRES_AT)'
      : `kvstore with STORAGE=file FSYNC=everysec on a DATA_DIR generated per adapter, every key's expiresAt = T, one ` +
        `absolute instant set ${EXPIRY_LEAD_US_PER_KEY} µs a key + ${EXPIRY_LEAD_FIXED_MS / 1000} s after generation ` +
        'begins, so that generation and start-up end before T - 2 s (the row says how long they took, and whether T was missed)') +
      `; GET load (${EVENT_CONNECTIONS} connections, cycling over the expiring keys; up to ${EVENT_WARMUP_MS / 1000} s of ` +
      'unmeasured warm-up first, as the wait for T allows) from T - 2 s until the sweep is over ' +
      `(the log has not grown for ${SWEEP_QUIET_MS / 1000} s; at least T + ${EXPIRY_AFTER_MIN_MS / 1000} s, at most ` +
      `T + ${EXPIRY_AFTER_MAX_MS / 1000} s); p50/p99 columns = from T on; ratio = p99 from T on / p99 before T`,
  ];
  if (!selfTest) {
    notes.push(
      'the sweep is seen from outside as the log growing (one expire record per key); "all gone" is the first GET /stats ' +
        'after the load answering storedKeys 0 (not polled during the load: /stats costs O(expired keys not swept yet)). ' +
        'Keys are no longer written over HTTP with ?ttl= (that reached tens of thousands of keys in its time budget)',
      generatedNote(generated),
    );
  }
  return { rows, notes };
}

async function expiryRun(ctx, adapter, generated) {
  const { keys } = ctx.opts;
  const selfTest = isSelfTest(ctx);
  const began = Date.now();
  const expiryAt =
    Math.ceil((began + (keys * EXPIRY_LEAD_US_PER_KEY) / 1000 + EXPIRY_LEAD_FIXED_MS) / 1000) *
    1000;
  const label = selfTest ? kvLabel(ctx, adapter) : `${kvLabel(ctx, adapter)} file`;
  let data = null;
  let server = null;
  try {
    if (!selfTest) {
      data = await generateDataDir(ctx, keys, { expiresAt: expiryAt });
      generated.push(data);
    }
    const generatedAt = Date.now();
    server = await startKv(
      ctx,
      adapter,
      selfTest
        ? { PREFILL_KEYS: String(keys), PREFILL_EXPIRES_AT: String(expiryAt) }
        : FILE_DEFAULT_ENV,
      { label, seedDir: data ? data.dir : undefined, readyTimeoutMs: 180000 },
    );
    const timing = { began, generatedAt, readyAt: Date.now(), expiryAt, generated: !selfTest };
    ctx.log(
      `${label}: ready in ${fmtMs(server.startMs)} ms with ${fmtInt(keys)} keys; T in ${((expiryAt - timing.readyAt) / 1000).toFixed(1)} s`,
    );
    // Less than a second before T: nothing to compare with (and after T, the store forgot the
    // keys while loading).
    if (timing.readyAt > expiryAt - 1000) return expiryMissedRow(server, keys, timing);

    const loadFrom = expiryAt - EXPIRY_BEFORE_MS;
    // The wait for T is idle anyway: warm up for longer than --warmup if it leaves room.
    const warmupMs = Math.min(
      Math.max(ctx.opts.warmupSec * 1000, EVENT_WARMUP_MS),
      loadFrom - 200 - Date.now(),
    );
    if (warmupMs >= 100) {
      await sleep(loadFrom - warmupMs - 200 - Date.now());
      await runLoad({
        url: server.url,
        connections: EVENT_CONNECTIONS,
        durationSec: warmupMs / 1000,
        workload: getWorkload(keys),
      });
    }
    if (loadFrom > Date.now()) await sleep(loadFrom - Date.now());
    const growth = selfTest ? null : watchGrowth(server.dataDir, 50);
    const run = await runLoad({
      url: server.url,
      connections: EVENT_CONNECTIONS,
      durationSec: (expiryAt + EXPIRY_AFTER_MAX_MS - Date.now()) / 1000,
      workload: getWorkload(keys),
      timeline: true,
      stopWhen: () => {
        const now = Date.now();
        if (now < expiryAt + EXPIRY_AFTER_MIN_MS) return false;
        const last = growth ? growth.lastGrowthAt() : null;
        // No growth by T + 4 s: nothing is sweeping (or the self-test has no log).
        return last === null || last < expiryAt || now - last >= SWEEP_QUIET_MS;
      },
    });
    const sweep = growth ? growth.stop() : null;
    const rss = rssMb(server.pid);
    const gone = selfTest ? null : await storedKeysGone(server, 60000);
    if (gone && gone.zeroAt !== null)
      ctx.log(`${label}: /stats storedKeys 0 at T+${fmtInt(gone.zeroAt - expiryAt)} ms`);
    return expiryRow(server, run, { expiryAt, keys, rss, sweep, gone, timing });
  } finally {
    if (server) await stopServer(server, { timeoutMs: 30000 });
    if (data) removeTempDir(data.dir);
  }
}

/** Polls a directory's total size; reports when it grew (the sweep appends expire records). */
function watchGrowth(dir, intervalMs) {
  const samples = [{ t: Date.now(), bytes: dirBytes(dir) }];
  let lastGrowthAt = null;
  const timer = setInterval(() => {
    const bytes = dirBytes(dir);
    const t = Date.now();
    if (bytes > samples[samples.length - 1].bytes) lastGrowthAt = t;
    if (bytes !== samples[samples.length - 1].bytes) samples.push({ t, bytes });
  }, intervalMs);
  return {
    lastGrowthAt: () => lastGrowthAt,
    stop() {
      clearInterval(timer);
      const grew = samples.slice(1).filter((s, i) => s.bytes > samples[i].bytes);
      return {
        firstAt: grew.length > 0 ? grew[0].t : null,
        lastAt: lastGrowthAt,
        bytes: samples[samples.length - 1].bytes - samples[0].bytes,
      };
    },
  };
}

/**
 * Polls GET /stats until storedKeys is 0, every 500 ms up to timeoutMs. Returns the first
 * answer's count and when it reached 0 (null if it did not), or null without a /stats route.
 */
async function storedKeysGone(server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let first = null;
  let last = null;
  for (;;) {
    const res = await httpRequest(server.port, { path: '/stats', timeoutMs: 10000 }).catch(
      () => null,
    );
    let stored;
    try {
      stored = res && res.status === 200 ? JSON.parse(res.body).storedKeys : null;
    } catch {
      stored = null;
    }
    if (typeof stored !== 'number') return first === null ? null : { first, last, zeroAt: null };
    if (first === null) first = stored;
    last = stored;
    if (stored === 0) return { first, last, zeroAt: Date.now() };
    if (Date.now() > deadline) return { first, last, zeroAt: null };
    await sleep(500);
  }
}

module.exports = { expiryScenario };
