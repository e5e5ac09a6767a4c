'use strict';

/**
 * Micro-benchmark of the PUT body path alone: parseJsonBody on ~100-byte values (the shape the
 * load scenarios store) and on variants that take the slower checks (floats of 17 digits,
 * objects of many members). After a build:
 *
 *   node bench/json-body.js [--rounds=N] [--ms=M] [other/dist ...]
 *
 * Each dist directory given (default: this checkout's dist/) is measured in turn within every
 * round, A B A B, so that a busy machine disturbs them alike. Time is the process's CPU time
 * (user + system), not wall time, for the same reason. Prints the median nanoseconds per call
 * of each shape and dist over the rounds, with the range.
 */

const path = require('node:path');
const { valueFor } = require('./keys');

const flags = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const dists = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const option = (name, fallback) => {
  const flag = flags.find((arg) => arg.startsWith(`--${name}=`));
  return flag === undefined ? fallback : Number(flag.split('=')[1]);
};
const ROUNDS = option('rounds', 9);
const MS_PER_ROUND = option('ms', 200);
const VARIANTS = 256;

const targets = (dists.length > 0 ? dists : [path.join(__dirname, '..', 'dist')]).map((dist) => ({
  dist,
  parseJsonBody: require(path.resolve(dist, 'keys', 'json-body.js')).parseJsonBody,
}));

const SHAPES = {
  'user record (bench/keys.js)': (i) => valueFor(i),
  'array of small ints': (i) => `[${i},2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23]`,
  'string only': (i) => JSON.stringify(`user-${i} `.padEnd(96, 'x')),
  // Shortest round-trip forms, as JSON.stringify writes them: 16-17 significant digits.
  'floats of 17 digits': (i) =>
    `{"x":${(i + 1) / 7},"y":${Math.PI * (i + 1)},"z":-1.7976931348623157e308}`,
  'nested records': (i) =>
    `{"a":{"id":${i},"b":{"c":[{"d":1,"e":2},{"f":3,"g":4}]}},"h":"${'x'.repeat(40)}"}`,
};

let sink = 0;

/** CPU nanoseconds per call of one round. */
function round(parseJsonBody, bodies) {
  let calls = 0;
  const started = process.cpuUsage();
  const deadline = Date.now() + MS_PER_ROUND;
  while (Date.now() < deadline) {
    for (let i = 0; i < bodies.length; i++) sink += parseJsonBody(bodies[i]).length;
    calls += bodies.length;
  }
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / calls;
}

console.log(`node ${process.version}, ${ROUNDS} rounds of ${MS_PER_ROUND} ms per shape and dist`);
for (const [name, make] of Object.entries(SHAPES)) {
  const bodies = Array.from({ length: VARIANTS }, (_, i) => Buffer.from(make(i)));
  const times = targets.map(() => []);
  for (let r = 0; r <= ROUNDS; r++) {
    targets.forEach((target, t) => {
      const ns = round(target.parseJsonBody, bodies);
      // The first round warms the JIT up and is not counted.
      if (r > 0) times[t].push(ns);
    });
  }
  targets.forEach((target, t) => {
    const sorted = times[t].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)].toFixed(0);
    const range = `${sorted[0].toFixed(0)}-${sorted[sorted.length - 1].toFixed(0)}`;
    const label = `${name} (${bodies[0].length} B)`.padEnd(36);
    console.log(`${label} ${median.padStart(6)} ns/call (${range})  ${target.dist}`);
  });
}
if (sink === 0) throw new Error('unreachable: keeps the calls from being optimised away');
