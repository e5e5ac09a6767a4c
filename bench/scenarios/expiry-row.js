'use strict';

/** The expiry scenario's table row: GET latency before T, from T on and during the sweep. */

const { percentile } = require('../load');
const { fmtBytes, fmtInt, fmtMs } = require('../report');
const { rssMb } = require('../servers');
const { worstBucketP99 } = require('./event-latency');
const { fmtSec, shortCount } = require('./format');

function describeExpiryTiming({ began, generatedAt, readyAt, expiryAt }) {
  return (
    `T set ${fmtSec(expiryAt - began)} after generation began: generated in ${fmtSec(generatedAt - began)}, ` +
    `copied and ready ${fmtSec(readyAt - generatedAt)} later, ${fmtSec(expiryAt - readyAt)} before T`
  );
}

function expiryMissedRow(server, keys, timing) {
  return {
    scenario: `expiry@${shortCount(keys)}`,
    server: server.label,
    rps: null,
    p50: null,
    p99: null,
    rssMb: rssMb(server.pid),
    keys,
    ratioText: 'n/a',
    detail:
      `T MISSED: ready only ${fmtSec(timing.expiryAt - timing.readyAt)} before T, not measured; ` +
      `${describeExpiryTiming(timing)} (the machine is slower than EXPIRY_LEAD_US_PER_KEY in bench/scenarios/expiry.js assumes)`,
  };
}

function expiryRow(server, run, { expiryAt, keys, rss, sweep, gone, timing }) {
  const { times, latencies, statuses } = run.timeline;
  const startedAt = times.length > 0 ? times[0] : expiryAt;
  const before = { lat: [], ok: 0, n: 0 };
  const after = { lat: [], ok: 0, n: 0 };
  const duringSweep = [];
  const sweepFrom = sweep && sweep.firstAt !== null ? sweep.firstAt - 50 : null;
  const sweepTo = sweep && sweep.lastAt !== null ? sweep.lastAt + 50 : null;
  let lastOkAt = null;
  let lateOk = 0;
  for (let i = 0; i < times.length; i += 1) {
    const t = times[i];
    const ok = statuses[i] === 200;
    // Skip the first 300 ms: connections opening and JIT, not the server's steady state.
    if (t >= startedAt + 300 && t < expiryAt - 50) {
      before.lat.push(latencies[i]);
      before.n += 1;
      if (ok) before.ok += 1;
    } else if (t >= expiryAt) {
      after.lat.push(latencies[i]);
      after.n += 1;
      if (ok) {
        after.ok += 1;
        lastOkAt = t;
        if (t >= expiryAt + 1500) lateOk += 1;
      }
    }
    if (sweepFrom !== null && t >= sweepFrom && t <= sweepTo) duringSweep.push(latencies[i]);
  }
  const p99Before = percentile(before.lat, 99);
  const p99After = percentile(after.lat, 99);
  const p99Sweep = percentile(duringSweep, 99);
  const worst = worstBucketP99(times, latencies, expiryAt - 1000, 250);
  const row = {
    scenario: `expiry@${shortCount(keys)}`,
    server: server.label,
    rps: run.rps,
    p50: percentile(after.lat, 50),
    p99: p99After,
    rssMb: rss,
    p99Before,
    p99DuringSweep: p99Sweep,
    maxAfter: percentile(after.lat, 100),
    worst250msP99: worst,
    keys,
    sweptFromMs: sweepFrom === null ? null : sweep.firstAt - expiryAt,
    sweptToMs: sweepTo === null ? null : sweep.lastAt - expiryAt,
    sweepLogBytes: sweep ? sweep.bytes : null,
    storedKeysZeroAtMs: gone && gone.zeroAt !== null ? gone.zeroAt - expiryAt : null,
    timing,
    ratio: p99Before ? p99After / p99Before : null,
    ratioBase: 'p99 before T',
    ratioText: p99Before ? `${(p99After / p99Before).toFixed(1)}× before` : '-',
  };
  const measuredFor = times.length > 0 ? times[times.length - 1] - expiryAt : 0;
  const detail = [
    `${fmtInt(keys)} keys expiring at T; load until T+${fmtSec(measuredFor)}`,
    `p99 before T ${fmtMs(p99Before)} ms`,
    `worst 250 ms p99 ${fmtMs(worst)} ms`,
    `max after T ${fmtMs(row.maxAfter)} ms`,
    lastOkAt === null ? 'no 200 after T' : `last 200 at T+${fmtInt(lastOkAt - expiryAt)} ms`,
  ];
  if (sweep) {
    detail.push(
      sweep.firstAt === null
        ? 'the log did not grow: no sweep seen'
        : `sweep (log growing) T+${fmtSec(sweep.firstAt - expiryAt)} → T+${fmtSec(sweep.lastAt - expiryAt)}, ` +
            `${fmtBytes(sweep.bytes)} of expire records, p99 during it ${fmtMs(p99Sweep)} ms`,
    );
  }
  if (gone === null && sweep) detail.push('no /stats answer after the load');
  else if (gone)
    detail.push(
      gone.zeroAt === null
        ? `STILL ${fmtInt(gone.last)} keys stored (GET /stats) 60 s after the load`
        : gone.first === 0
          ? `all gone (GET /stats storedKeys 0) at T+${fmtSec(gone.zeroAt - expiryAt)}, the first check`
          : `all gone (GET /stats storedKeys 0) at T+${fmtSec(gone.zeroAt - expiryAt)} (${fmtInt(gone.first)} stored at the first check)`,
    );
  if (timing.generated) detail.push(describeExpiryTiming(timing));
  // The measurement only means something if the keys were alive before T and gone after it.
  if (before.n === 0 || before.ok / before.n < 0.5) {
    row.ratioText = 'n/a';
    detail.unshift(
      `keys were not alive before T (${fmtInt(before.ok)} of ${fmtInt(before.n)} GETs answered 200)`,
    );
  } else if (lateOk > 0) {
    row.ratioText = 'n/a';
    detail.unshift(
      `${fmtInt(lateOk)} GETs still answered 200 more than 1.5 s after T: expiry not honoured?`,
    );
  }
  row.detail = detail.join('; ');
  return row;
}

module.exports = { expiryMissedRow, expiryRow };
