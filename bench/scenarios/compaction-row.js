'use strict';

/** The compaction scenario's table row: GET latency inside the compaction windows and outside. */

const { percentile } = require('../load');
const { fmtBytes, fmtInt, fmtMs } = require('../report');
const { GARBAGE_VALUE_BYTES } = require('./compaction-writes');
const { worstBucketP99 } = require('./event-latency');
const { fmtSec, shortCount } = require('./format');

function compactionRow(server, reads, o) {
  const { times, latencies } = reads.timeline;
  const windows = compactionWindows(o.events);
  for (const call of o.triggered)
    if (call.status >= 200 && call.status < 300)
      windows.push({ from: call.from, to: call.to + 100 });
  const during = [];
  const outside = [];
  const steadyFrom = times.length > 0 ? times[0] + 300 : 0;
  for (let i = 0; i < times.length; i += 1) {
    // The first 300 ms are connections opening, not the server's steady state.
    if (times[i] < steadyFrom) continue;
    (windows.some((w) => times[i] >= w.from && times[i] <= w.to) ? during : outside).push(
      latencies[i],
    );
  }
  const metricText = Object.entries(o.metricDeltas)
    .filter(([, delta]) => delta !== 0)
    .map(([name, delta]) => `${name} +${delta}`)
    .join(', ');
  const p99Outside = percentile(outside, 99);
  const p99During = percentile(during, 99);
  const wroteMiB = (o.writes.total * GARBAGE_VALUE_BYTES) / 1024 / 1024;
  const common = [
    `${fmtInt(o.writes.total)} PUTs (~${wroteMiB.toFixed(1)} MiB of records) in ${o.writes.durationSec.toFixed(1)} s` +
      (o.writes.behind ? ` (${fmtInt(o.writes.behind)} not sent: the server fell behind)` : '') +
      (o.writes.non2xx || o.writes.errors
        ? `, ${fmtInt(o.writes.non2xx)} non-2xx and ${fmtInt(o.writes.errors)} failed!`
        : ''),
    `DATA_DIR ${fmtBytes(o.bytesBefore)} → ${fmtBytes(o.bytesAfter)}`,
  ];
  if (o.missing.length > 0) common.unshift(`${o.missing.join(', ')} NOT FOUND before the run!`);
  const row = {
    scenario: `compaction@${shortCount(o.keys)}`,
    server: server.label,
    rps: reads.rps,
    rssMb: o.rss,
    p50: null,
    p99: null,
    p99Outside,
    compactionWindows: windows.length,
    compactionMs: null,
    serverCompactions: o.serverLog,
    fileEvents: o.events,
    metricDeltas: o.metricDeltas,
  };
  if (windows.length === 0 && metricText === '' && o.serverLog.length === 0) {
    return {
      ...row,
      p50: reads.p50,
      p99: reads.p99,
      ratioText: 'n/a',
      detail: [
        'no compaction observed (no file in DATA_DIR replaced, removed or shrunk; no compaction metric; no admin route)',
        'p50/p99 columns = whole run',
        ...common,
      ].join('; '),
    };
  }
  if (windows.length === 0 || during.length === 0) {
    return {
      ...row,
      p50: reads.p50,
      p99: reads.p99,
      ratioText: 'whole run',
      detail: [
        `compaction reported by ${metricText ? `/metrics (${metricText})` : 'the server log'} but not visible in DATA_DIR: p50/p99 = whole run`,
        ...common,
      ].join('; '),
    };
  }
  // The windows carry 100 ms margins on each side.
  const spans = windows.map((w) => w.to - w.from - 200);
  row.compactionMs = spans.reduce((sum, ms) => sum + ms, 0);
  const startedAfter = windows[0].from + 100 - times[0];
  const eventText = o.events
    .slice(0, 5)
    .map((e) => `${e.kind} ${e.name}`)
    .join(', ');
  const logText = o.serverLog
    .map((c) => `${fmtInt(c.ms)} ms, snapshot ${fmtBytes(c.snapshotBytes)}`)
    .join('; ');
  return {
    ...row,
    p50: percentile(during, 50),
    p99: p99During,
    ratio: p99Outside ? p99During / p99Outside : null,
    ratioBase: 'p99 outside compaction',
    ratioText: p99Outside ? `${(p99During / p99Outside).toFixed(1)}× outside` : '-',
    detail: [
      `${windows.length} compaction window(s) of ${spans.map((ms) => fmtSec(ms)).join(', ')} ` +
        `(the first ${fmtSec(startedAfter)} into the load), ${fmtInt(during.length)} GETs inside, ${fmtInt(outside.length)} outside`,
      logText ? `server log: compacted in ${logText}` : null,
      `p99 outside ${fmtMs(p99Outside)} ms, max inside ${fmtMs(percentile(during, 100))} ms, ` +
        `worst 250 ms p99 inside ${fmtMs(worstWindowP99(times, latencies, windows, 250))} ms`,
      `files: ${eventText}${o.events.length > 5 ? ', …' : ''}`,
      metricText ? `metrics: ${metricText}` : null,
      o.trigger ? `triggered via ${o.trigger.method} ${o.trigger.path}` : null,
      ...common,
    ]
      .filter(Boolean)
      .join('; '),
  };
}

/** The highest p99 over consecutive `bucketMs` buckets inside the windows. */
function worstWindowP99(times, latencies, windows, bucketMs) {
  let worst = null;
  for (const w of windows) {
    const p = worstBucketP99(times, latencies, w.from, bucketMs, w.to);
    if (p !== null && (worst === null || p > worst)) worst = p;
  }
  return worst;
}

/**
 * Compaction windows from directory events. A file that appears and disappears during the run
 * (a snapshot written as .tmp, then renamed) spans its compaction from start to end; other events
 * are instants. Intervals less than 200 ms apart are one compaction; 100 ms margins cover the
 * 50 ms between polls and the requests that a compaction delayed.
 */
function compactionWindows(events) {
  const intervals = events.map((e) => ({ from: e.t, to: e.t }));
  events.forEach((created, i) => {
    if (created.kind !== 'created') return;
    const gone = events.slice(i + 1).find((e) => e.name === created.name && e.kind === 'removed');
    if (gone) intervals.push({ from: created.t, to: gone.t });
  });
  intervals.sort((a, b) => a.from - b.from);
  const merged = [];
  for (const interval of intervals) {
    const last = merged[merged.length - 1];
    if (last && interval.from - last.to <= 200) last.to = Math.max(last.to, interval.to);
    else merged.push({ ...interval });
  }
  return merged.map((w) => ({ from: w.from - 100, to: w.to + 100 }));
}

module.exports = { compactionRow };
