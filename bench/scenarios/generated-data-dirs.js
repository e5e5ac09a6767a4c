'use strict';

/**
 * Generated data directories: a million keys written over HTTP would take minutes at kvstore's
 * PUT rate, so put-keys, startup, expiry and compaction start kvstore on directories written by
 * its own storage engine (make-data-dir.js), and the reference server prefilled in-process
 * (PREFILL_KEYS).
 */

const path = require('node:path');
const { makeDataDir } = require('../make-data-dir');
const { fmtBytes, fmtInt } = require('../report');
const { makeTempDir, trackChild } = require('../servers');
const { shortCount } = require('./format');

/**
 * Data directories by key count (and whether compacted), each generated once per harness run and
 * copied into every server started on it (startServer's seedDir): put-keys and startup share one
 * generation, and no server sees what another wrote. Temporary directories, removed on every
 * way out.
 */
const generatedDirs = new Map();

/**
 * @param {{compact?: boolean}} [o] compact: false leaves the log as written, no snapshot (the
 *   compaction scenario); the default is a snapshot plus an empty log
 */
function generatedDataDir(ctx, keys, { compact = true } = {}) {
  const cacheKey = `${keys}${compact ? '' : ' log-only'}`;
  if (!generatedDirs.has(cacheKey)) {
    const made = generateDataDir(ctx, keys, { compact });
    generatedDirs.set(cacheKey, made);
  }
  return generatedDirs.get(cacheKey);
}

/** One new generated directory (not shared); the caller removes it with removeTempDir. */
function generateDataDir(ctx, keys, { compact = true, expiresAt = null } = {}) {
  const dir = makeTempDir(`data-${shortCount(keys)}${compact ? '' : '-log'}`);
  const what = [
    expiresAt === null ? null : `all expiring at ${new Date(expiresAt).toISOString()}`,
    compact ? null : 'not compacted',
  ].filter(Boolean);
  ctx.log(
    `generating a DATA_DIR with ${fmtInt(keys)} keys${what.length ? ` (${what.join(', ')})` : ''} (bench/make-data-dir.js)`,
  );
  const distDir = path.dirname(ctx.kvstoreEntry);
  return makeDataDir({ distDir, dir, keys, expiresAt, compact, track: trackChild }).then(
    (result) => {
      ctx.log(`generated: ${describeGenerated(result)}`);
      return {
        ...result,
        dir,
        engine: path.relative(ctx.root, path.join(distDir, 'storage', 'file')),
      };
    },
  );
}

function describeGenerated(data) {
  const content = data.compacted
    ? 'snapshot + empty log'
    : data.compactRequested === false
      ? 'log only, not compacted'
      : 'log only: the repository exposes no compact()';
  const timing = data.compacted
    ? `(writes ${(data.writeMs / 1000).toFixed(1)} s, compaction ${(data.compactMs / 1000).toFixed(1)} s)`
    : `(writes ${(data.writeMs / 1000).toFixed(1)} s)`;
  const expiry = data.expiresAt ? ', every key with the same absolute expiry' : '';
  return (
    `${fmtInt(data.keys)} keys in ${(data.elapsedMs / 1000).toFixed(1)} s ${timing}, ` +
    `${fmtBytes(data.bytes)}, ${content}${expiry}`
  );
}

/** The note that says how the data directories of a scenario were made. */
function generatedNote(generated) {
  return (
    'DATA_DIRs generated without HTTP by bench/make-data-dir.js, which drives the built FileStorageRepository ' +
    `(${generated[0].engine}) with FSYNC=no${generated.some((g) => g.compactRequested !== false) ? ', then compacts' : ''}: ` +
    generated.map(describeGenerated).join('; ')
  );
}

module.exports = { generateDataDir, generatedDataDir, generatedNote };
