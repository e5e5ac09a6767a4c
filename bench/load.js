'use strict';

/**
 * Load generation: a thin wrapper over autocannon's programmatic API, run in the harness process.
 *
 * Latency is recorded from autocannon's per-response event rather than its own histogram: that
 * histogram stores whole milliseconds, and on loopback a single-connection request takes a
 * fraction of one, so its p50 would read 0. We keep every sample (a few hundred thousand floats
 * at most) and take exact percentiles.
 */

const http = require('node:http');
const autocannon = require('autocannon');
const { VALUE_BYTES, keyName, valueFor } = require('./keys');

/** A growable array of doubles; a plain array of a million numbers costs far more. */
class Samples {
  constructor(capacity = 1 << 16) {
    this.values = new Float64Array(capacity);
    this.length = 0;
  }

  push(value) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length] = value;
    this.length += 1;
  }

  toArray() {
    return this.values.subarray(0, this.length);
  }
}

/** Nearest-rank percentile of an unsorted numeric array (p in 0..100); null when empty. */
function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

function median(values) {
  const present = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  if (present.length === 0) return null;
  const sorted = [...present].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs one load: `connections` keep-alive connections for `durationSec`, each request built by
 * the workload for the next key index (a counter shared by all connections, so keys are cycled).
 *
 * @param {object} o
 * @param {string} o.url                 base URL of the server
 * @param {number} o.connections
 * @param {number} o.durationSec
 * @param {object} o.workload            { method, keyCount, path(i), body?(i) }
 * @param {boolean} [o.timeline]         also keep each response's time (epoch ms) and status
 * @param {() => boolean} [o.stopWhen]   checked every 100 ms; true ends the run before durationSec
 * @returns {Promise<{rps:number, p50:number, p99:number, max:number, total:number, non2xx:number,
 *   errors:number, timeouts:number, statusCounts:object, durationSec:number, timeline?:object}>}
 */
async function runLoad(o) {
  const { workload } = o;
  let counter = 0;
  const setupRequest = (req) => {
    const i = counter % workload.keyCount;
    counter += 1;
    req.method = workload.method;
    req.path = workload.path(i);
    if (workload.body) req.body = workload.body(i);
    return req;
  };

  const latencies = new Samples();
  const times = o.timeline ? new Samples() : null;
  const statuses = o.timeline ? new Samples() : null;
  const statusCounts = {};

  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.durationSec,
    pipelining: 1,
    timeout: 10,
    // autocannon stops only at its next sample tick; 100 ms ticks keep a 1.5 s run near 1.5 s.
    sampleInt: 100,
    headers: workload.body ? { 'content-type': 'application/json' } : {},
    requests: [{ setupRequest }],
  });

  instance.on('response', (client, statusCode, resBytes, responseTime) => {
    latencies.push(responseTime);
    statusCounts[statusCode] = (statusCounts[statusCode] || 0) + 1;
    if (times) {
      times.push(Date.now());
      statuses.push(statusCode);
    }
  });

  let poll = null;
  if (o.stopWhen) {
    poll = setInterval(() => {
      if (o.stopWhen()) instance.stop();
    }, 100);
  }
  let result;
  try {
    result = await instance;
  } finally {
    clearInterval(poll);
  }
  const all = latencies.toArray();
  return {
    rps: result.requests.total / result.duration,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: percentile(all, 100),
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
    durationSec: result.duration,
    timeline: times
      ? { times: times.toArray(), latencies: all, statuses: statuses.toArray() }
      : undefined,
  };
}

/**
 * Sends the workload's requests at a steady rate over a few keep-alive connections, until
 * durationSec or stopWhen(). For background load whose volume must be known in advance (the
 * compaction scenario grows the log by a planned number of bytes per second). autocannon's own
 * rate limit sends each second's quota in a burst at the top of the second, which would show
 * in the latency of the load measured next to it; this spreads the requests over 10 ms ticks.
 * Requests the server has not answered yet are never more than `rate` (one second's worth):
 * past that, ticks send nothing and the shortfall is reported as `behind`.
 *
 * @param {object} o
 * @param {string} o.url
 * @param {number} o.rate                requests per second
 * @param {number} [o.connections]       default 4
 * @param {number} o.durationSec
 * @param {object} o.workload            { method, keyCount, path(i), body?(i) }
 * @param {() => boolean} [o.stopWhen]
 * @returns {Promise<{rps:number, total:number, non2xx:number, errors:number, behind:number,
 *   durationSec:number}>}
 */
function pacedLoad(o) {
  const { workload } = o;
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections || 4 });
  const headers = workload.body ? { 'content-type': 'application/json' } : {};
  const started = performance.now();
  let sent = 0;
  let answered = 0;
  let non2xx = 0;
  let errors = 0;
  let behind = 0;
  let counter = 0;
  let stopping = false;
  return new Promise((resolve) => {
    const finish = () => {
      const durationSec = (performance.now() - started) / 1000;
      agent.destroy();
      resolve({
        rps: answered / durationSec,
        total: answered,
        non2xx,
        errors,
        behind,
        durationSec,
      });
    };
    const send = () => {
      const i = counter % workload.keyCount;
      counter += 1;
      sent += 1;
      const body = workload.body ? workload.body(i) : undefined;
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: workload.method,
          path: workload.path(i),
          headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers,
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            answered += 1;
            if (res.statusCode < 200 || res.statusCode >= 300) non2xx += 1;
            if (stopping && answered + errors === sent) finish();
          });
        },
      );
      req.setTimeout(10000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors += 1;
        if (stopping && answered + errors === sent) finish();
      });
      req.end(body);
    };
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - started;
      if (elapsedMs >= o.durationSec * 1000 || (o.stopWhen && o.stopWhen())) {
        clearInterval(timer);
        stopping = true;
        if (answered + errors === sent) finish();
        return;
      }
      const due = Math.floor((elapsedMs / 1000) * o.rate) - sent - behind;
      for (let k = 0; k < due; k += 1) {
        if (sent - answered - errors >= o.rate) behind += 1;
        else send();
      }
    }, 10);
  });
}

/** GET cycling over keys [0, keyCount). */
function getWorkload(keyCount) {
  return { method: 'GET', keyCount, path: (i) => `/key/${keyName(i)}` };
}

/** PUT cycling over keys [0, keyCount), with a fresh ~100-byte value from a small ring. */
function putWorkload(keyCount) {
  // Building a JSON text per request costs harness CPU that the server would then lack; a ring
  // of prebuilt values still changes the stored value on every write.
  const ring = Array.from({ length: 256 }, (_, i) => Buffer.from(valueFor(i + 7)));
  return { method: 'PUT', keyCount, path: (i) => `/key/${keyName(i)}`, body: (i) => ring[i & 255] };
}

module.exports = {
  Samples,
  getWorkload,
  keyName,
  median,
  pacedLoad,
  percentile,
  putWorkload,
  runLoad,
  valueFor,
  VALUE_BYTES,
};
