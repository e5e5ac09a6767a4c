'use strict';

/**
 * Printing: the machine header, one table for every scenario's rows, the notes under it, and
 * the JSON file the figures in BENCHMARKS.md are pasted from.
 */

const fs = require('node:fs');
const path = require('node:path');

const fmtInt = (n) => (n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US'));

/** Milliseconds with precision that suits their size: 0.084, 1.23, 12.3, 123. */
function fmtMs(ms) {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

const fmtUs = (us) => (us === null || us === undefined ? '-' : us.toFixed(0));

const fmtMb = (mb) => (mb === null || mb === undefined ? '-' : mb.toFixed(0));

function fmtBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function header(meta) {
  const lines = [
    `kvstore benchmark — ${meta.date}`,
    `machine: ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memGiB} GiB RAM, ${meta.machine.os}`,
    `node:    every server on Node ${meta.serverNode}; the harness and autocannon on Node ${meta.machine.node}`,
    ...(meta.alsoNode
      ? [`also:    every GET/PUT c1/c50 server a second time, on Node ${meta.alsoNode}`]
      : []),
    `commit:  ${meta.commit}; NestJS ${meta.nest}`,
    ...meta.baselines.map((baseline) => `baseline: ${baseline}`),
    `server:  ${meta.target}; adapters: ${meta.adapters.join(', ')}; LOG_LEVEL=${meta.logLevel}`,
    ...(meta.pinnedCpu === null
      ? []
      : [`pinned:  every server on CPU ${meta.pinnedCpu}, the harness on the others (--pin)`]),
    `load:    autocannon ${meta.autocannon} in the harness process, 127.0.0.1 only, targets interleaved (A B A B), ` +
      `${meta.runs} runs × ${meta.durationSec} s each, req/s = median of runs, p50/p99 = median of runs' percentiles`,
    `mode:    ${meta.mode}; large key count ${fmtInt(meta.keys)}; startup key counts ` +
      `${meta.startupKeys.map(fmtInt).join(', ')}; framework floor: ${meta.floor.length > 0 ? meta.floor.join(', ') : 'off'}`,
  ];
  for (const warning of meta.warnings) lines.push(`note:    ${warning}`);
  return lines.join('\n');
}

const COLUMNS = [
  { title: 'scenario', get: (r) => r.scenario },
  { title: 'server', get: (r) => r.server },
  { title: 'req/s', get: (r) => fmtInt(r.rps), right: true },
  { title: 'p50 ms', get: (r) => fmtMs(r.p50), right: true },
  { title: 'p99 ms', get: (r) => fmtMs(r.p99), right: true },
  { title: 'CPU µs/req', get: (r) => fmtUs(r.cpuUs), right: true },
  { title: 'RSS MB', get: (r) => fmtMb(r.rssMb), right: true },
  { title: 'ratio', get: (r) => r.ratioText || '-', right: true },
  { title: 'detail', get: (r) => r.detail || '' },
];

/** A plain-text table (also valid Markdown, so it pastes into BENCHMARKS.md as is). */
function table(rows) {
  const cells = rows.map((row) => COLUMNS.map((c) => String(c.get(row))));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) =>
    `| ${values.map((v, i) => (COLUMNS[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (COLUMNS[i].right ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(COLUMNS.map((c) => c.title)), rule, ...cells.map(line)].join('\n');
}

/** Rows for every scenario, with a placeholder row for one that was n/a or failed. */
function allRows(results) {
  const rows = [];
  for (const result of results) {
    rows.push(...result.rows);
    if (result.status !== 'ok' && result.rows.length === 0) {
      rows.push({
        scenario: result.name,
        server: '-',
        ratioText: result.status,
        detail: result.reason,
      });
    }
  }
  return rows;
}

function notes(results) {
  const lines = [];
  for (const result of results) {
    for (const note of result.notes) lines.push(`- ${result.name}: ${note}`);
  }
  return lines.join('\n');
}

function writeJson(file, meta, results) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const stripped = results.map((r) => ({ ...r, rows: r.rows.map((row) => ({ ...row })) }));
  fs.writeFileSync(file, `${JSON.stringify({ meta, scenarios: stripped }, null, 2)}\n`);
}

module.exports = { allRows, fmtBytes, fmtInt, fmtMs, header, notes, table, writeJson };
