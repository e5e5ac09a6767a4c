/** Unit specs live beside the code, end-to-end specs in test/; both compile with SWC. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.(ts|js)$': ['@swc/jest'] },
  // @fastify/static (Swagger UI's assets on Fastify) requires content-disposition 3, which is
  // ESM only. Node 20.19+ loads it with require(esm); Jest's module loader cannot, so SWC
  // turns it into CommonJS for the tests.
  transformIgnorePatterns: ['/node_modules/(?!(.*/)?content-disposition/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
};
