'use strict';

/** What the latency-under-event scenarios (expiry, compaction) share. */

const { percentile } = require('../load');

/** Connections for the latency-under-event scenarios: enough to keep the server busy, few
 * enough that a stall shows as itself rather than as queueing. */
const EVENT_CONNECTIONS = 10;
/**
 * Warm-up before the latency-under-event scenarios (at least; --warmup may ask for more). A
 * freshly started kvstore holding a million keys, after half a second of load, still showed a
 * GET p99 of ~27 ms (express) where a warm one shows ~7 ms: the "before" side of the comparison
 * would be mostly warm-up.
 */
const EVENT_WARMUP_MS = 3000;

/** The highest p99 over consecutive windows of `bucketMs` from `from` on (up to `to`). */
function worstBucketP99(times, latencies, from, bucketMs, to = Infinity) {
  const buckets = new Map();
  for (let i = 0; i < times.length; i += 1) {
    if (times[i] < from || times[i] > to) continue;
    const b = Math.floor((times[i] - from) / bucketMs);
    if (!buckets.has(b)) buckets.set(b, []);
    buckets.get(b).push(latencies[i]);
  }
  let worst = null;
  for (const values of buckets.values()) {
    if (values.length < 20) continue; // too few samples for a p99
    const p = percentile(values, 99);
    if (worst === null || p > worst) worst = p;
  }
  return worst;
}

module.exports = { EVENT_CONNECTIONS, EVENT_WARMUP_MS, worstBucketP99 };
