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
  // Jest's default, one worker less than the cores, is one worker here: every file ran after the
  // other, while the slowest mostly wait on something (the server processes they start, npm,
  // data-dir's 11 s stall). Two workers overlap them, about halving the run. The tests that bound
  // a latency measure it against an idle control server under the same load (backpressure).
  maxWorkers: 2,
  testSequencer: '<rootDir>/jest.sequencer.js',
};
