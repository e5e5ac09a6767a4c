'use strict';

/** compaction: GET p99 during a compaction that copies the large key count. */

const { getWorkload, pacedLoad, runLoad } = require('../load');
const { fmtBytes, fmtInt, fmtMs } = require('../report');
const { dirBytes, httpRequest, rssMb, stopServer } = require('../servers');
const { compactionRow } = require('./compaction-row');
const {
  compactionMetrics,
  diffMetrics,
  findCompactionRoute,
  watchDir,
} = require('./compaction-watch');
const { GARBAGE_KEYS, GARBAGE_VALUE_BYTES, garbageWorkload } = require('./compaction-writes');
const { EVENT_CONNECTIONS, EVENT_WARMUP_MS } = require('./event-latency');
const { generatedDataDir, generatedNote } = require('./generated-data-dirs');
const { FILE_DEFAULT_ENV, isSelfTest, kvLabel, missingKeys, startKv } = require('./targets');

/** Background ~4 KB overwrites per second: the log grows by a known amount per second. */
const COMPACTION_WRITE_RATE = 500;
/** Seconds of writes (and of GET load measured before compaction) until the log crosses the
 * compaction threshold. */
const COMPACTION_LEAD_SEC = 3;
/** GET load goes on this long after the compaction's last file event. */
const COMPACTION_TAIL_MS = 2000;
/** At most this long in all, compaction seen or not. */
const COMPACTION_MAX_SEC = 60;

/**
 * kvstore starts on a generated DATA_DIR of --keys keys left as a log (not compacted). With no
 * snapshot, the compaction threshold is COMPACT_MIN_BYTES alone (COMPACT_RATIO × the last
 * snapshot's size is 0), so COMPACT_MIN_BYTES is set to the log's size plus what the steady
 * background writes add in COMPACTION_LEAD_SEC seconds: compaction starts that far into the
 * measured GET load and copies every key into a new snapshot, which is the work a compaction
 * does whatever the directory held before (it snapshots the in-memory table; it never reads the
 * old files). With a snapshot of the same keys, the smallest COMPACT_RATIO (2) would need twice
 * its size, ~300 MiB, of overwrites first.
 */
async function compactionScenario(ctx) {
  if (isSelfTest(ctx)) {
    return {
      rows: [],
      notes: [],
      status: 'n/a',
      reason: 'the reference server has no DATA_DIR to compact (--target=reference)',
    };
  }
  const { keys } = ctx.opts;
  const data = await generatedDataDir(ctx, keys, { compact: false });
  const compactMinBytes =
    data.bytes + COMPACTION_WRITE_RATE * COMPACTION_LEAD_SEC * GARBAGE_VALUE_BYTES;
  // At info kvstore logs each compaction with its duration, and still no per-request line.
  const logLevel = ['debug', 'trace'].includes(ctx.opts.logLevel) ? ctx.opts.logLevel : 'info';
  const rows = [];
  for (const adapter of ctx.adapters) {
    const label = `${kvLabel(ctx, adapter)} file`;
    const server = await startKv(
      ctx,
      adapter,
      {
        ...FILE_DEFAULT_ENV,
        COMPACT_MIN_BYTES: String(compactMinBytes),
        LOG_LEVEL: logLevel,
      },
      { label, seedDir: data.dir, readyTimeoutMs: 180000 },
    );
    try {
      ctx.log(
        `${label}: ready in ${fmtMs(server.startMs)} ms with ${fmtInt(keys)} keys in its log`,
      );
      const missing = await missingKeys(server, keys);
      await runLoad({
        url: server.url,
        connections: EVENT_CONNECTIONS,
        durationSec: Math.max(ctx.opts.warmupSec, EVENT_WARMUP_MS / 1000),
        workload: getWorkload(keys),
      });
      const trigger = await findCompactionRoute(server.port);
      const metricsBefore = await compactionMetrics(server.port);
      const bytesBefore = dirBytes(server.dataDir);
      const outputBefore = server.outputTail().length;
      const watcher = watchDir(server.dataDir, 50);
      const triggered = [];
      let triggerTimer = null;
      if (trigger) {
        // A server that documents a compaction route: called when the threshold would be crossed.
        triggerTimer = setTimeout(async () => {
          const at = Date.now();
          const res = await httpRequest(server.port, {
            method: trigger.method,
            path: trigger.path,
            timeoutMs: 60000,
          }).catch((error) => ({
            status: 0,
            body: error.message,
          }));
          triggered.push({ from: at, to: Date.now(), status: res.status });
        }, COMPACTION_LEAD_SEC * 1000);
      }
      const runStarted = Date.now();
      // Done once a file that appeared during the run has gone again (a snapshot's temporary
      // file renamed, an old log deleted) COMPACTION_TAIL_MS ago.
      const stopWhen = () => {
        const last = watcher.lastRemovalAt();
        return (
          last !== null &&
          Date.now() - last >= COMPACTION_TAIL_MS &&
          Date.now() - runStarted >= (COMPACTION_LEAD_SEC + 1) * 1000
        );
      };
      const [reads, writes] = await Promise.all([
        runLoad({
          url: server.url,
          connections: EVENT_CONNECTIONS,
          durationSec: COMPACTION_MAX_SEC,
          workload: getWorkload(keys),
          timeline: true,
          stopWhen,
        }),
        pacedLoad({
          url: server.url,
          rate: COMPACTION_WRITE_RATE,
          connections: 4,
          durationSec: COMPACTION_MAX_SEC,
          workload: garbageWorkload(),
          stopWhen,
        }),
      ]);
      clearTimeout(triggerTimer);
      const events = watcher.stop();
      const metricsAfter = await compactionMetrics(server.port);
      const rss = rssMb(server.pid);
      rows.push(
        compactionRow(server, reads, {
          keys,
          missing,
          events,
          triggered,
          trigger,
          metricDeltas: diffMetrics(metricsBefore, metricsAfter),
          writes,
          bytesBefore,
          bytesAfter: dirBytes(server.dataDir),
          serverLog: serverCompactions(server.outputTail().slice(outputBefore)),
          rss,
        }),
      );
    } finally {
      await stopServer(server, { timeoutMs: 30000 });
    }
  }
  const notes = [
    `STORAGE=file FSYNC=everysec on a copy of a generated ${fmtInt(keys)}-key DATA_DIR left as a log, no snapshot; ` +
      `COMPACT_MIN_BYTES = its size + ${fmtBytes(COMPACTION_WRITE_RATE * COMPACTION_LEAD_SEC * GARBAGE_VALUE_BYTES)} ` +
      `(${fmtInt(compactMinBytes)}), which ${COMPACTION_WRITE_RATE} ~4 KB PUTs a second (overwrites of ${GARBAGE_KEYS} keys, ` +
      `paced evenly, throughout) add in ~${COMPACTION_LEAD_SEC} s, so the compaction, which copies every key into a ` +
      `new snapshot, starts ~${COMPACTION_LEAD_SEC} s into the GET load (${EVENT_CONNECTIONS} connections over all ` +
      `${fmtInt(keys)} keys, after ${EVENT_WARMUP_MS / 1000} s of unmeasured GET warm-up). With no snapshot the threshold is COMPACT_MIN_BYTES alone; from a snapshot of the same keys, ` +
      'the smallest COMPACT_RATIO (2) would take ~300 MiB of overwrites. LOG_LEVEL=info for this server (no per-request ' +
      'lines) so that it logs its compactions with their duration',
    'compaction windows = files in DATA_DIR created/renamed/removed (polled every 50 ms; from the new log segment to ' +
      'the old log deleted, ±100 ms); also a /metrics series named *compact* or a POST route named *compact* in the ' +
      'OpenAPI document, if the server has them. p50/p99 columns = GETs inside the window; ratio = p99 inside / outside',
    generatedNote([data]),
  ];
  const allNa = rows.every((row) => row.ratioText === 'n/a');
  return allNa
    ? { rows, notes, status: 'n/a', reason: 'no compaction could be observed (see the rows)' }
    : { rows, notes };
}

/** kvstore's own "Compacted <dir>: <snapshot> (<n> bytes) ... in <ms> ms." lines. */
function serverCompactions(output) {
  const found = [];
  const pattern = /Compacted [^\n]*?\((\d+) bytes\)[^\n]*? in (\d+) ms/g;
  for (let match = pattern.exec(output); match; match = pattern.exec(output))
    found.push({ snapshotBytes: Number(match[1]), ms: Number(match[2]) });
  return found;
}

module.exports = { compactionScenario };
