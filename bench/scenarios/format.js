'use strict';

/** Text for the table shared by several scenarios. */

/** The one-line reason for the table: the first line, without the server output appended. */
function firstLine(text) {
  return String(text)
    .split('\n')[0]
    .replace(/\. Output:$/, '');
}

/** A key count for a row name: 1k, 48k, 1M, 1.2M (the exact count is in the detail). */
function shortCount(n) {
  if (n >= 1e6) return `${Number((n / 1e6).toFixed(1))}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

/** Milliseconds as seconds with one decimal: "2.5 s". */
const fmtSec = (ms) => `${(ms / 1000).toFixed(1)} s`;

module.exports = { firstLine, fmtSec, shortCount };
