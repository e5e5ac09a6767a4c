const Sequencer = require('@jest/test-sequencer').default;

/**
 * The spec files that took longest, slowest first (one worker, `npm test -- --json`, shared
 * 2-core machine). With two workers, starting them first keeps one long file from running alone
 * at the end. Jest orders by the durations it cached in earlier runs once it has them; on a
 * fresh machine it has none and falls back to file size, which puts several of these last.
 */
const SLOWEST_FIRST = [
  'test/memory-limits.e2e-spec.ts',
  'test/container-recipe.e2e-spec.ts',
  'test/process.e2e-spec.ts',
  'test/durability.e2e-spec.ts',
  'test/data-dir.e2e-spec.ts',
  'test/replication-leader-restart.e2e-spec.ts',
  'test/replication-resync.e2e-spec.ts',
  'src/storage/file/power-loss.spec.ts',
  'test/backpressure.e2e-spec.ts',
  'test/watch-load.e2e-spec.ts',
  'src/storage/file/recover-store.spec.ts',
  'src/storage/file/write-faults.spec.ts',
];

class SlowestFirstSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    if (sorted.some((test) => test.duration != null)) return sorted;
    const rank = (test) => {
      const at = SLOWEST_FIRST.findIndex((file) => test.path.endsWith(file));
      return at === -1 ? SLOWEST_FIRST.length : at;
    };
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = SlowestFirstSequencer;
