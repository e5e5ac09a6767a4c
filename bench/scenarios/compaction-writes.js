'use strict';

/** The background writes that grow the log across the compaction threshold. */

const { keyName } = require('../load');

/**
 * Overwrites of a small hot set of keys with ~4 KB values: the log grows by 4 KB per write
 * while the live data (what a compaction must copy) stays about the same, the way an
 * update-heavy workload grows it.
 */
const GARBAGE_KEYS = 256;
const GARBAGE_VALUE_BYTES = 4096;

function garbageWorkload() {
  const ring = Array.from({ length: 16 }, (_, i) =>
    Buffer.from(JSON.stringify({ rev: i, blob: 'x'.repeat(GARBAGE_VALUE_BYTES - 30) })),
  );
  return {
    method: 'PUT',
    keyCount: GARBAGE_KEYS,
    path: (i) => `/key/${keyName(i)}`,
    body: (i) => ring[i & 15],
  };
}

module.exports = { GARBAGE_KEYS, GARBAGE_VALUE_BYTES, garbageWorkload };
