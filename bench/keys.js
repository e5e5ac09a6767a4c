'use strict';

/**
 * The keys and values every scenario stores, so all servers hold the same data whichever way
 * they were filled (over HTTP, by make-data-dir.js, or prefilled in the reference server).
 * No dependencies: the reference server and the data-directory generator load it too.
 */

const VALUE_BYTES = 100;

function keyName(i) {
  return `key-${i}`;
}

/** A ~100-byte JSON object that differs per key, the shape of a small user record. */
function valueFor(i) {
  const base = `{"id":${i},"user":"user-${i}","email":"user-${i}@example.com","active":true,"pad":""}`;
  const pad = Math.max(0, VALUE_BYTES - base.length);
  return base.slice(0, -2) + 'x'.repeat(pad) + '"}';
}

module.exports = { VALUE_BYTES, keyName, valueFor };
