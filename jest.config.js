/** Unit specs live beside the code, end-to-end specs in test/; both compile with SWC. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Jest's default of 5 s per test is a speed assertion in disguise on the shared 2-core
  // machines: CPU-bound tests (a recovery per cut byte, power-loss replays) take seconds there.
  // Tests that wait on real time keep their own, tighter bounds.
  testTimeout: 30_000,
  // Jest's default, one worker less than the cores, runs every file in one process here. Most of
  // the slow files wait on something else (server processes they start, npm, real timeouts), so
  // two workers on the two cores overlap those waits; the tests that bound a latency measure it
  // against an idle control server under the same load (backpressure.e2e-spec.ts).
  maxWorkers: 2,
  testSequencer: '<rootDir>/jest.sequencer.js',
};
