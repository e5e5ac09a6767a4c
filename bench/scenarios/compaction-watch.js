'use strict';

/**
 * Seeing a compaction from outside the server: files in DATA_DIR appearing and going, a
 * /metrics series or an admin route named after it.
 */

const fs = require('node:fs');
const path = require('node:path');
const { httpRequest } = require('../servers');

/** Polls a directory tree; reports files replaced (new inode), removed, shrunk, or created. */
function watchDir(dir, intervalMs) {
  const events = [];
  let previous = listFiles(dir);
  const timer = setInterval(() => {
    const current = listFiles(dir);
    const t = Date.now();
    for (const [name, before] of previous) {
      const now = current.get(name);
      if (!now) events.push({ t, kind: 'removed', name });
      else if (now.ino !== before.ino) events.push({ t, kind: 'replaced', name });
      else if (now.size < before.size) events.push({ t, kind: 'shrunk', name });
    }
    for (const name of current.keys())
      if (!previous.has(name)) events.push({ t, kind: 'created', name });
    previous = current;
  }, intervalMs);
  return {
    /** When a file last disappeared (the end of a compaction), or null. */
    lastRemovalAt() {
      for (let i = events.length - 1; i >= 0; i -= 1)
        if (events[i].kind === 'removed') return events[i].t;
      return null;
    },
    stop() {
      clearInterval(timer);
      return events;
    },
  };
}

function listFiles(dir, prefix = '', into = new Map()) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(dir, prefix), { withFileTypes: true });
  } catch {
    return into;
  }
  for (const entry of entries) {
    const name = path.join(prefix, entry.name);
    if (entry.isDirectory()) listFiles(dir, name, into);
    else {
      try {
        const stat = fs.statSync(path.join(dir, name));
        into.set(name, { size: stat.size, ino: stat.ino });
      } catch {
        // Gone between readdir and stat: the next poll reports it.
      }
    }
  }
  return into;
}

/** Sum of every /metrics sample whose name mentions compaction, by metric name. */
async function compactionMetrics(port) {
  const res = await httpRequest(port, { path: '/metrics' }).catch(() => null);
  const sums = {};
  if (!res || res.status !== 200) return sums;
  for (const line of res.body.split('\n')) {
    if (line.startsWith('#') || !/compact/i.test(line)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+([-+\d.eE]+|NaN|[+-]Inf)/.exec(line);
    if (!match) continue;
    // Gauges such as "compaction in progress" change both ways; counters only grow.
    const value = Number(match[2]);
    if (Number.isFinite(value)) sums[match[1]] = (sums[match[1]] || 0) + value;
  }
  return sums;
}

function diffMetrics(before, after) {
  const deltas = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (/_bucket$/.test(name)) continue; // histogram buckets repeat _count
    deltas[name] = (after[name] || 0) - (before[name] || 0);
  }
  return deltas;
}

/** A compaction route, if the server describes one in its OpenAPI document (Nest Swagger). */
async function findCompactionRoute(port) {
  for (const docPath of [
    '/docs-json',
    '/api-json',
    '/swagger-json',
    '/api/docs-json',
    '/openapi.json',
  ]) {
    const res = await httpRequest(port, { path: docPath }).catch(() => null);
    if (!res || res.status !== 200) continue;
    let doc;
    try {
      doc = JSON.parse(res.body);
    } catch {
      continue;
    }
    for (const [routePath, methods] of Object.entries(doc.paths || {})) {
      if (!/compact/i.test(routePath) || routePath.includes('{')) continue;
      if (methods.post) return { method: 'POST', path: routePath };
    }
  }
  return null;
}

module.exports = { compactionMetrics, diffMetrics, findCompactionRoute, watchDir };
