'use strict';

/**
 * metrics-cost: what metrics cost on the hot path. kvstore in memory with METRICS_ENABLED=true
 * (the default) and false (no /metrics route, no per-request timing), side by side per adapter.
 */

const { getWorkload, median, putWorkload } = require('../load');
const { fmtInt } = require('../report');
const { httpRequest } = require('../servers');
const { interleave, throughputRow } = require('./interleave');
const { POOL_KEYS } = require('./pool');
const { fill, kvLabel, settleWithLimit, startAll, startKv, stopAll } = require('./targets');

/**
 * Warm-up per server and workload. A Nest server (and autocannon in the harness) takes seconds
 * of load to reach its speed; half a second left the first runs 30% apart for two identical
 * servers, far more than the difference measured here.
 */
const METRICS_COST_WARMUP_SEC = 2;

async function metricsCostScenario(ctx) {
  const specs = ctx.adapters.flatMap((adapter) => [true, false].map((on) => ({ adapter, on })));
  const servers = await startAll(
    specs.map(
      ({ adapter, on }) =>
        () =>
          startKv(
            ctx,
            adapter,
            { METRICS_ENABLED: String(on) },
            { label: `${kvLabel(ctx, adapter)} metrics ${on ? 'on' : 'off'}` },
          ),
    ),
  );
  const rows = [];
  try {
    // Whether the setting took: /metrics answers with metrics on, and only then.
    const problems = [];
    for (const [i, server] of servers.entries()) {
      const res = await httpRequest(server.port, { path: '/metrics' }).catch(() => null);
      const status = res ? res.status : 0;
      const expected = specs[i].on ? status === 200 : status === 404;
      problems.push(
        expected
          ? []
          : [
              `GET /metrics answered ${status || 'nothing'}: METRICS_ENABLED=${specs[i].on} not honoured?`,
            ],
      );
    }
    const fills = await settleWithLimit(servers, 2, (server) => fill(ctx, server, 0, POOL_KEYS));
    const failed = fills.find((f) => f.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [name, makeWorkload] of [
      ['metrics-cost-get', getWorkload],
      ['metrics-cost-put', putWorkload],
    ]) {
      const workload = makeWorkload(POOL_KEYS);
      const stats = await interleave(ctx, name, servers, {
        connections: 50,
        workloadFor: () => workload,
        alternate: true,
        warmupSec: Math.max(ctx.opts.warmupSec, METRICS_COST_WARMUP_SEC),
      });
      for (let i = 0; i < specs.length; i += 2) {
        const [on, off] = [stats[i], stats[i + 1]];
        rows.push(throughputRow(name, servers[i], on, { baseName: 'base', detail: problems[i] }));
        // Run r of "on" and run r of "off" ran back to back, in alternating order: the median
        // of their ratios drifts far less than the ratio of the medians.
        const paired = on.runs.map((run, r) =>
          off.runs[r] && off.runs[r].rps ? run.rps / off.runs[r].rps : null,
        );
        const present = paired.filter((p) => p !== null);
        const onOverOff = median(present);
        const cost = onOverOff === null ? null : 1 - onOverOff;
        const detail = [...problems[i + 1]];
        if (cost !== null) {
          detail.push(
            `metrics cost ${(cost * 100).toFixed(1)}% of throughput (on = ${onOverOff.toFixed(3)}× off, median of runs)`,
          );
        }
        if (present.length > 1)
          detail.push(`per run on/off ${present.map((p) => p.toFixed(3)).join(', ')}`);
        const row = throughputRow(name, servers[i + 1], off, { detail });
        if (onOverOff) {
          row.ratio = 1 / onOverOff;
          row.ratioBase = 'metrics on (median of paired runs)';
          row.ratioText = `${row.ratio.toFixed(2)}× on`;
        }
        row.metricsCost = cost;
        row.pairedOnOff = paired;
        rows.push(row);
      }
    }
  } finally {
    await stopAll(servers);
  }
  return {
    rows,
    notes: [
      `kvstore in memory with METRICS_ENABLED=true (default) and false (no /metrics route, no per-request timing), ` +
        `${fmtInt(POOL_KEYS)} keys each, GET then PUT at 50 connections after ${METRICS_COST_WARMUP_SEC} s of warm-up per server ` +
        '(at least; --warmup), all servers interleaved, every other run in reverse ' +
        'order; ratio = off/on and cost = 1 - on/off, both from the median over runs of on/off measured back to back ' +
        "(the req/s column is each server's median); cost is the share of throughput that metrics take (aim: under " +
        '10%). A difference of a few percent is within the noise of short runs on this machine: the per-run ratios ' +
        'show the spread. The readiness probe is GET /health, which both have',
    ],
  };
}

module.exports = { metricsCostScenario };
