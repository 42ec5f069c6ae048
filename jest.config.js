// One jest run for the whole monorepo: every workspace's tests share the servers that globalSetup starts
// once (see common/src/testing/infra.ts and docs/infrastructure.md).

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: false },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  testMatch: [
    '<rootDir>/{common,auth,tickets,orders,expiration,payments}/src/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
    '<rootDir>/infra/**/*.test.ts',
  ],
  // Tests run against the sources, never a stale build of @ticketing/common.
  moduleNameMapper: {
    '^@ticketing/common$': '<rootDir>/common/src/index.ts',
    '^@ticketing/common/testing$': '<rootDir>/common/src/testing/index.ts',
  },
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/[^/]+/dist/'],
  // Keeps built copies (dist/) and local server data out of jest's module map and watch mode.
  modulePathIgnorePatterns: ['<rootDir>/[^/]+/dist/', '<rootDir>/.tools/', '<rootDir>/.data/'],
  watchPathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/.data/'],
  globalSetup: '<rootDir>/common/src/testing/jest-global-setup.ts',
  globalTeardown: '<rootDir>/common/src/testing/jest-global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
