import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BusTransport } from '../events/bus';

/**
 * Helpers for inside a test file. The servers are shared by every test file of a run (jest
 * globalSetup starts them once), so each file isolates itself: its own database, its own NATS channel
 * prefix, its own Redis key prefix. Jest loads this module afresh for every test file, so the
 * module-level memos below are per file.
 */

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: run the tests with jest from the repository root, whose globalSetup ` +
        '(infra/dev/lib/jest-global-setup.ts) starts the test servers',
    );
  }
  return value;
}

/** The path of the running test file, when jest exposes it (it does inside a test file). */
function currentTestPath(): string | undefined {
  // Read through globalThis rather than the `expect` global so this module also compiles and loads
  // outside jest (it is part of @ticketing/common's build).
  const jestExpect = (globalThis as { expect?: { getState?: () => { testPath?: string | null } } }).expect;
  const testPath = jestExpect?.getState?.().testPath;
  return typeof testPath === 'string' && testPath !== '' ? testPath : undefined;
}

/**
 * The monorepo root (the nearest directory above this file or the working directory whose
 * package.json declares "workspaces"), else the working directory. Only names the test databases.
 */
function rootOrCwd(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const pkg = path.join(dir, 'package.json');
      if (existsSync(pkg) && declaresWorkspaces(pkg)) return dir;
      if (path.dirname(dir) === dir) break;
    }
  }
  return process.cwd();
}

function declaresWorkspaces(packageJson: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(packageJson, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed;
  } catch {
    return false;
  }
}

function randomId(length: number): string {
  return randomBytes(16).toString('hex').slice(0, length);
}

let databaseName: string | undefined;

/**
 * A database name unique to this test file and process: readable (service and file name) for whoever
 * inspects the server, and at most 38 characters of [a-z0-9_].
 */
export function testDatabaseName(): string {
  if (databaseName !== undefined) return databaseName;
  const testPath = currentTestPath();
  if (testPath === undefined) {
    databaseName = `t_${randomId(12)}`;
    return databaseName;
  }
  const service = path.relative(rootOrCwd(), testPath).split(path.sep)[0] ?? '';
  const file = path.basename(testPath).replace(/\.test\.tsx?$/, '');
  const slug = `${service}_${file}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 26)
    .replace(/_+$/, '');
  // The hash keeps two files with the same slug (or two concurrent runs) apart.
  // The transport too: a file that runs on both may run twice in one worker.
  const hash = createHash('sha1').update(`${testPath}:${process.pid}:${testBusTransport()}`).digest('hex').slice(0, 8);
  databaseName = `t_${slug}_${hash}`;
  return databaseName;
}

/** TEST_MONGO_URI with this file's own database, ready for mongoose.connect(). */
export function testMongoUri(): string {
  const base = requireEnv('TEST_MONGO_URI');
  return withDatabase(base, testDatabaseName());
}

/**
 * Puts `database` in the path of a Mongo connection string, keeping hosts and options. String surgery
 * instead of URL because a replica-set URI (host1,host2) is not a valid WHATWG URL.
 */
export function withDatabase(uri: string, database: string): string {
  const schemeEnd = uri.indexOf('://');
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  const queryStart = uri.indexOf('?', authorityStart);
  const beforeQuery = queryStart < 0 ? uri : uri.slice(0, queryStart);
  const query = queryStart < 0 ? '' : uri.slice(queryStart);
  const pathStart = beforeQuery.indexOf('/', authorityStart);
  const authority = pathStart < 0 ? beforeQuery : beforeQuery.slice(0, pathStart);
  return `${authority}/${database}${query}`;
}

let channelPrefix: string | undefined;

/**
 * A prefix for NATS channel names ("t1a2b3c4d.") unique to this test file, so files running in
 * parallel on the shared server never see each other's events.
 */
export function testChannelPrefix(): string {
  channelPrefix ??= `t${randomId(8)}.`;
  return channelPrefix;
}

let redisPrefix: string | undefined;

/** A key prefix ("t1a2b3c4d:") unique to this test file, for the shared Redis. */
export function testRedisPrefix(): string {
  redisPrefix ??= `t${randomId(8)}:`;
  return redisPrefix;
}

/**
 * The transport this test file runs on: EVENT_BUS, which the jest project "jetstream" sets to
 * 'jetstream' (root jest.config.js) for the files that run on both transports; NATS Streaming otherwise.
 */
export function testBusTransport(): BusTransport {
  return process.env['EVENT_BUS'] === 'jetstream' ? 'jetstream' : 'stan';
}

export interface NatsTestConfig {
  transport: BusTransport;
  url: string;
  clusterId: string;
  /** The server's HTTP monitoring endpoint. */
  monitorUrl: string;
}

/** The shared bus server of this file's transport, ready to spread into createBus()'s options. */
export function natsTestConfig(): NatsTestConfig {
  if (testBusTransport() === 'jetstream') {
    return {
      transport: 'jetstream',
      url: requireEnv('TEST_JETSTREAM_URL'),
      clusterId: 'ticketing',
      monitorUrl: process.env['TEST_JETSTREAM_MONITOR_URL'] ?? '',
    };
  }
  return {
    transport: 'stan',
    url: requireEnv('TEST_NATS_URL'),
    clusterId: requireEnv('TEST_NATS_CLUSTER_ID'),
    monitorUrl: process.env['TEST_NATS_MONITOR_URL'] ?? '',
  };
}

export function testRedisUrl(): string {
  return requireEnv('TEST_REDIS_URL');
}

/** Stripe's test mode (stripe-test-mode.ts) in front of the run's stripe-mock, shared by every file. */
export function testStripeUrl(): string {
  return requireEnv('TEST_STRIPE_URL');
}

/** The run's stripe-mock itself: what a test file's own StripeTestMode forwards to. */
export function testStripeMockUrl(): string {
  return requireEnv('TEST_STRIPE_MOCK_URL');
}

export interface EventuallyOptions {
  /** Give up after this long; 5000 ms by default. */
  timeoutMs?: number;
  /** Wait this long between attempts; 50 ms by default. */
  intervalMs?: number;
}

/**
 * Retries `fn` until it returns without throwing (put the assertions inside) and returns its result.
 * When the deadline passes, rethrows the last error as it is, so jest shows the real assertion diff.
 * The way to wait for an asynchronous effect (an event handled, a record written) without sleeping.
 */
export async function eventually<T>(fn: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await withDeadline(Promise.resolve().then(fn), deadline, timeoutMs);
    } catch (error) {
      // An attempt cut off at the deadline says less than the assertion that failed before it.
      if (error instanceof AttemptTimedOut && lastError instanceof Error) throw lastError;
      if (error instanceof AttemptTimedOut) throw error;
      lastError = error;
      if (Date.now() + intervalMs > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** An attempt that was still running at the deadline. */
class AttemptTimedOut extends Error {}

/** A hanging attempt (a query that never returns) must not make eventually() hang past its deadline. */
async function withDeadline<T>(attempt: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new AttemptTimedOut(`eventually(): an attempt was still running after ${timeoutMs} ms`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
