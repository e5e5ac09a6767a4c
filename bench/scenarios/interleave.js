'use strict';

/**
 * Throughput measurement: several targets under the same load, interleaved, and the table row
 * for each.
 */

const { median, runLoad } = require('../load');
const { fmtInt, fmtMs } = require('../report');
const { cpuMs, rssMb, sleep } = require('../servers');

/**
 * Measures every target with the same load, interleaved (A B C, A B C, ...) so that drift of
 * the machine (thermal, other tenants) spreads over all of them instead of biasing one; with
 * `alternate`, every other run goes backwards (A B C, C B A, ...), so that a steady drift (a
 * server still warming up) favours neither of two neighbours over the runs.
 * Returns, per target, the median req/s, p50 and p99 over the runs, RSS after its last run, and
 * the median CPU time the server used per answer (µs; `cpuUsPerReq`, null without /proc): a view
 * of a cost that does not count the time the server waited for the CPU. It still moves between
 * runs and with the machine's load, so only ratios within a run mean anything.
 */
async function interleave(
  ctx,
  scenario,
  targets,
  { connections, workloadFor, alternate = false, warmupSec = ctx.opts.warmupSec },
) {
  const { runs, durationSec } = ctx.opts;
  const stats = targets.map(() => ({ runs: [], rssMb: null }));
  if (warmupSec > 0) {
    for (const target of targets) {
      await runLoad({
        url: target.url,
        connections,
        durationSec: warmupSec,
        workload: workloadFor(target),
      });
    }
  }
  for (let r = 0; r < runs; r += 1) {
    const order = targets.map((_, t) => t);
    if (alternate && r % 2 === 1) order.reverse();
    for (const t of order) {
      const target = targets[t];
      const cpuBefore = cpuMs(target.pid);
      const run = await runLoad({
        url: target.url,
        connections,
        durationSec,
        workload: workloadFor(target),
      });
      const cpuAfter = cpuMs(target.pid);
      const cpuSpent =
        cpuBefore === null || cpuAfter === null || run.total === 0
          ? null
          : ((cpuAfter - cpuBefore) * 1000) / run.total;
      if (r === runs - 1) stats[t].rssMb = rssMb(target.pid);
      stats[t].runs.push({
        rps: run.rps,
        p50: run.p50,
        p99: run.p99,
        max: run.max,
        total: run.total,
        non2xx: run.non2xx,
        errors: run.errors,
        statusCounts: run.statusCounts,
        cpuUsPerReq: cpuSpent,
      });
      ctx.log(
        `[${scenario}] run ${r + 1}/${runs} ${target.label}: ${fmtInt(run.rps)} req/s, p50 ${fmtMs(run.p50)} ms, p99 ${fmtMs(run.p99)} ms` +
          (cpuSpent === null ? '' : `, server CPU ${Math.round(cpuSpent)} µs/answer`) +
          (run.non2xx || run.errors ? ` (${run.non2xx} non-2xx, ${run.errors} errors)` : ''),
      );
      // Let closed connections drain before the next target starts.
      await sleep(100);
    }
  }
  return stats.map((s) => ({
    ...s,
    rps: median(s.runs.map((x) => x.rps)),
    p50: median(s.runs.map((x) => x.p50)),
    p99: median(s.runs.map((x) => x.p99)),
    cpuUsPerReq: median(s.runs.map((x) => x.cpuUsPerReq)),
    non2xx: s.runs.reduce((sum, x) => sum + x.non2xx, 0),
    errors: s.runs.reduce((sum, x) => sum + x.errors, 0),
  }));
}

/** A table row for a throughput measurement; `base` is what the ratio is taken against. */
function throughputRow(scenario, target, stat, { base, baseName, detail = [] } = {}) {
  const ratio = base && base.rps ? stat.rps / base.rps : null;
  const problems = [];
  if (stat.non2xx) problems.push(`${fmtInt(stat.non2xx)} non-2xx answers!`);
  if (stat.errors) problems.push(`${fmtInt(stat.errors)} connection errors!`);
  return {
    scenario,
    server: target.label,
    rps: stat.rps,
    p50: stat.p50,
    p99: stat.p99,
    rssMb: stat.rssMb,
    ratio,
    ratioBase: baseName || null,
    ratioText: ratio === null ? baseName || '-' : `${ratio.toFixed(2)}× ${baseName}`,
    detail: [...problems, ...detail].join('; '),
    runs: stat.runs,
  };
}

module.exports = { interleave, throughputRow };
