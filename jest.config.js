// One jest run for the whole monorepo: every workspace's tests share the servers that globalSetup starts
// once (see infra/dev/lib/infra.ts and docs/infrastructure.md).
//
// Two projects: "stan" runs every test file on NATS Streaming (the default transport); "jetstream"
// runs the event suites again on NATS JetStream (EVENT_BUS=jetstream, set by its setup file), plus
// the JetStream-only files (*.jetstream.test.ts). `npx jest --selectProjects jetstream` runs one.

/** The files that run on both transports: the bus and listener suites, the e2e and fault tests. */
const BOTH_TRANSPORTS = [
  '<rootDir>/common/src/__tests__/bus.test.ts',
  '<rootDir>/common/src/__tests__/listener.test.ts',
  '<rootDir>/test/e2e/purchase.test.ts',
  '<rootDir>/test/e2e/expiration.test.ts',
  '<rootDir>/test/fault/nats-outage.test.ts',
  '<rootDir>/test/fault/listener-crash.test.ts',
];

/** @type {import('jest').Config} */
const shared = {
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
  // Tests run against the sources, never a stale build of @ticketing/common.
  moduleNameMapper: {
    '^@ticketing/common$': '<rootDir>/common/src/index.ts',
    '^@ticketing/common/testing$': '<rootDir>/common/src/testing/index.ts',
    '^@ticketing/devinfra$': '<rootDir>/infra/dev/index.ts',
  },
  // Keeps built copies (dist/) and local server data out of jest's module map and watch mode.
  modulePathIgnorePatterns: ['<rootDir>/[^/]+/dist/', '<rootDir>/.tools/', '<rootDir>/.data/'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'stan',
      testMatch: [
        '<rootDir>/{common,auth,tickets,orders,expiration,payments}/src/**/*.test.ts',
        '<rootDir>/test/**/*.test.ts',
        '<rootDir>/infra/**/*.test.ts',
        '<rootDir>/api/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/[^/]+/dist/', '\\.jetstream\\.test\\.ts$'],
    },
    {
      ...shared,
      displayName: 'jetstream',
      testMatch: [...BOTH_TRANSPORTS, '<rootDir>/{common,test,infra}/**/*.jetstream.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/[^/]+/dist/'],
      setupFiles: ['<rootDir>/infra/dev/lib/jest-jetstream-env.ts'],
    },
  ],
  watchPathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/.data/'],
  globalSetup: '<rootDir>/infra/dev/lib/jest-global-setup.ts',
  globalTeardown: '<rootDir>/infra/dev/lib/jest-global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
