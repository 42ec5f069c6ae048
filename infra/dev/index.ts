/**
 * @ticketing/devinfra: the development tooling of the monorepo, kept out of @ticketing/common and the
 * production images. Everything outside this workspace (the tests, bench/, infra/deploy-test, the
 * services' tests) imports it from here, never a deep path:
 *
 * - lib/: the server starters (FerretDB, nats-streaming, nats-server with JetStream, Redis,
 *   stripe-mock), the tool installer (Go builds and apt), the process and protocol probes they use,
 *   Stripe's test mode in front of stripe-mock, a TCP proxy for fault tests, and the jest global setup.
 * - stack/, gateway.ts, status-page.ts, chromium.ts: the local stack of `npm start`, the e2e tests
 *   and the bench.
 *
 * The lighter helpers a test file uses (session cookies, ids, `eventually`, the per-file database and
 * bus settings) stay in @ticketing/common/testing: they start and install nothing.
 */

export * from './lib/infra';
export * from './lib/infra-process';
export * from './lib/infra-probes';
export { ensureTool } from './lib/infra-tools';
export { externalServer, stderrLog } from './lib/infra-tool-names';
export * from './lib/tcp-proxy';
export * from './lib/stripe-test-mode';

export * from './stack';
// lib/ and stack/ each name the same `(line: string) => void` type Log; this is the one exported.
export type { Log } from './lib/infra';
export { npmCommand } from './stack/build';
export * from './gateway';
export type { StackStatus } from './status-page';
export { ensureChromium } from './chromium';
