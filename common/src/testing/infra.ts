import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  removeTempDir,
  spawnManaged,
  startOnFreePort,
  trackTempDir,
  waitUntilReady,
  type ManagedProcess,
} from './infra-process';
import type { BusTransport } from '../events/bus';
import { expectHttp200, mongoPing, natsInfo, redisPing } from './infra-probes';
import { ensureTool, externalServer, stderrLog, type Log, type ToolName } from './infra-tools';

/**
 * The one place that runs infrastructure servers, for the tests (jest globalSetup), `npm start` and CI.
 * Each starter binds 127.0.0.1 on a port the OS picks (unless one is given), resolves only once the
 * server answers its own protocol, and kills the child on failure, quoting its output in the error.
 * When the matching variable (MONGO_URI, NATS_URL, REDIS_URL, STRIPE_MOCK_URL) is set, the starter
 * returns that server instead and starts nothing.
 */

export {
  ALL_TOOLS,
  EXTERNAL_SERVER_ENV,
  ensureTools,
  repoRoot,
  toolsBinDir,
  type Log,
  type ToolName,
  type ToolStatus,
} from './infra-tools';
export { freePort } from './infra-process';
export { aptInstall, canAptInstall, type AptInstallOptions, type AptResult } from './infra-apt';

const HOST = '127.0.0.1';

export interface CommonStartOptions {
  /** Where to report slow first-time installs; stderr by default. */
  log?: Log;
  /** How long the server may take to answer; 30 s by default. */
  readyTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------------
// MongoDB (FerretDB, or mongod when it is on PATH)

export interface StartMongoOptions extends CommonStartOptions {
  /** Keep the data here (created if needed); a temporary directory, deleted on stop, when absent. */
  dataDir?: string;
  port?: number;
}

export interface MongoServer {
  /** mongodb://127.0.0.1:PORT (no database: callers add their own). */
  uri: string;
  stop(): Promise<void>;
}

export async function startMongo(opts: StartMongoOptions = {}): Promise<MongoServer> {
  const external = externalServer('mongo');
  if (external !== undefined) return { uri: external, stop: async () => {} };

  const tool = await ensureTool('mongo', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'mongo');
  const isMongod = tool.provider === 'mongod';
  return withDataDir('mongo', opts.dataDir, (dir, release) =>
    startOnFreePort(opts.port, async (port) => {
      const args = isMongod
        ? ['--port', String(port), '--bind_ip', HOST, '--dbpath', dir, '--quiet']
        : ['-listen', `${HOST}:${port}`, '-dir', dir, '-log-level', 'warn', '-exit-on-stdin-eof'];
      const proc = spawnManaged(isMongod ? 'mongod' : 'FerretDB', binary, args, { stdinPipe: !isMongod });
      await waitUntilReady(proc, `Mongo on port ${port}`, () => mongoPing(HOST, port), readyOpts(opts));
      return {
        uri: `mongodb://${HOST}:${port}`,
        stop: once(async () => {
          await proc.stop();
          release();
        }),
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// NATS Streaming

export interface StartNatsStreamingOptions extends CommonStartOptions {
  /** 'memory' (default) loses everything on stop; 'file' keeps channels and subscriptions in dataDir. */
  store?: 'memory' | 'file';
  /** File store directory (created if needed); a temporary directory, deleted on stop, when absent. */
  dataDir?: string;
  port?: number;
  /** HTTP monitoring port; free one when absent. */
  monitorPort?: number;
  /** Defaults to "ticketing". */
  clusterId?: string;
}

export interface NatsStreamingServer {
  transport: 'stan';
  /** nats://127.0.0.1:PORT */
  url: string;
  clusterId: string;
  /** http://127.0.0.1:MONITORPORT ('' for an external server without NATS_MONITOR_URL). */
  monitorUrl: string;
  port: number;
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same ports with the same store: what clients see
   * when the bus restarts. With the memory store everything is lost, as in a real restart.
   */
  restart(): Promise<void>;
}

export async function startNatsStreaming(opts: StartNatsStreamingOptions = {}): Promise<NatsStreamingServer> {
  const clusterId = opts.clusterId ?? 'ticketing';
  const external = externalServer('nats');
  if (external !== undefined) return externalNats(external, process.env['NATS_CLUSTER_ID'] ?? clusterId);

  const tool = await ensureTool('nats', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'nats');
  const store = opts.store ?? 'memory';

  const launch = async (port: number, monitorPort: number, dir: string | undefined): Promise<ManagedProcess> => {
    const args = [
      ...['-cid', clusterId, '-a', HOST, '-p', String(port), '-m', String(monitorPort)],
      // Tests isolate themselves with per-file channel prefixes, so channels pile up past the default 100.
      ...['-mc', '0'],
      // Fast heartbeats: a client that died without closing is dropped after ~3 s instead of keeping
      // its share of a queue group's messages for minutes.
      ...['-hbi', '1s', '-hbt', '1s', '-hbf', '3'],
      ...(dir === undefined ? [] : ['-store', 'file', '-dir', dir]),
    ];
    const proc = spawnManaged('nats-streaming-server', binary, args);
    await waitUntilReady(
      proc,
      `NATS Streaming on port ${port}`,
      async () => {
        await expectHttp200(`http://${HOST}:${monitorPort}/streaming/serverz`);
        await natsInfo(HOST, port);
      },
      readyOpts(opts),
    );
    return proc;
  };

  const run = async (dir: string | undefined, release: () => void): Promise<NatsStreamingServer> => {
    let proc: ManagedProcess | undefined;
    let monitorPort = 0;
    // Both ports are retried together: either one may have been taken since we asked for it.
    const port = await startOnFreePort(opts.port, async (p) => {
      monitorPort = opts.monitorPort ?? (await freePort());
      proc = await launch(p, monitorPort, dir);
      return p;
    });
    let stopped = false;
    return {
      transport: 'stan',
      url: `nats://${HOST}:${port}`,
      clusterId,
      monitorUrl: `http://${HOST}:${monitorPort}`,
      port,
      stop: once(async () => {
        stopped = true;
        await proc?.stop();
        release();
      }),
      async restart() {
        if (stopped) throw new Error('restart() after stop(): start a new server instead');
        await proc?.stop();
        proc = await launch(port, monitorPort, dir);
      },
    };
  };
  if (store === 'memory') return run(undefined, () => {});
  return withDataDir('nats', opts.dataDir, run);
}

function externalNats(url: string, clusterId: string): NatsStreamingServer {
  return {
    transport: 'stan',
    url,
    clusterId,
    monitorUrl: process.env['NATS_MONITOR_URL'] ?? '',
    port: portOf(url, 4222),
    stop: async () => {},
    restart: () =>
      Promise.reject(new Error('restart() needs a server started here, but NATS_URL points at an external one')),
  };
}

// ---------------------------------------------------------------------------------------------------
// NATS JetStream (nats-server -js)

export interface StartNatsJetStreamOptions extends CommonStartOptions {
  /** JetStream's store directory (created if needed); a temporary directory, deleted on stop, when absent. */
  dataDir?: string;
  port?: number;
  /** HTTP monitoring port; free one when absent. */
  monitorPort?: number;
}

export interface NatsJetStreamServer {
  transport: 'jetstream';
  /** nats://127.0.0.1:PORT */
  url: string;
  /** Unused by JetStream; "ticketing", so a server handle fits wherever a NATS Streaming one does. */
  clusterId: string;
  /** http://127.0.0.1:MONITORPORT ('' for an external server without NATS_JETSTREAM_MONITOR_URL). */
  monitorUrl: string;
  port: number;
  /** The store directory ('' for an external server). */
  storeDir: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same ports with the same store (streams survive). */
  restart(): Promise<void>;
}

export async function startNatsJetStream(opts: StartNatsJetStreamOptions = {}): Promise<NatsJetStreamServer> {
  const external = externalServer('jetstream');
  if (external !== undefined) {
    return {
      transport: 'jetstream',
      url: external,
      clusterId: 'ticketing',
      monitorUrl: process.env['NATS_JETSTREAM_MONITOR_URL'] ?? '',
      port: portOf(external, 4222),
      storeDir: '',
      stop: async () => {},
      restart: () =>
        Promise.reject(
          new Error('restart() needs a server started here, but NATS_JETSTREAM_URL points at an external one'),
        ),
    };
  }
  const tool = await ensureTool('jetstream', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'jetstream');

  const launch = async (port: number, monitorPort: number, dir: string): Promise<ManagedProcess> => {
    const args = ['-js', '-sd', dir, '-a', HOST, '-p', String(port), '-m', String(monitorPort)];
    const proc = spawnManaged('nats-server', binary, args);
    await waitUntilReady(
      proc,
      `NATS JetStream on port ${port}`,
      async () => {
        // /healthz answers 200 only once JetStream has loaded its store.
        await expectHttp200(`http://${HOST}:${monitorPort}/healthz`);
        await natsInfo(HOST, port);
      },
      readyOpts(opts),
    );
    return proc;
  };

  return withDataDir('jetstream', opts.dataDir, async (dir, release) => {
    let proc: ManagedProcess | undefined;
    let monitorPort = 0;
    const port = await startOnFreePort(opts.port, async (p) => {
      monitorPort = opts.monitorPort ?? (await freePort());
      proc = await launch(p, monitorPort, dir);
      return p;
    });
    let stopped = false;
    return {
      transport: 'jetstream',
      url: `nats://${HOST}:${port}`,
      clusterId: 'ticketing',
      monitorUrl: `http://${HOST}:${monitorPort}`,
      port,
      storeDir: dir,
      stop: once(async () => {
        stopped = true;
        await proc?.stop();
        release();
      }),
      async restart() {
        if (stopped) throw new Error('restart() after stop(): start a new server instead');
        await proc?.stop();
        proc = await launch(port, monitorPort, dir);
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Either bus server

export type BusServer = NatsStreamingServer | NatsJetStreamServer;

export interface StartBusServerOptions extends CommonStartOptions {
  /** NATS Streaming's store ('memory' by default); JetStream always stores to files. */
  store?: 'memory' | 'file';
  dataDir?: string;
  port?: number;
  monitorPort?: number;
}

/** A private server of the given transport (fault tests run on both). */
export function startBusServer(transport: BusTransport, opts: StartBusServerOptions = {}): Promise<BusServer> {
  if (transport === 'jetstream') {
    // JetStream has no memory/file choice at the server level: its store is always a directory.
    return startNatsJetStream({
      ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      ...(opts.port === undefined ? {} : { port: opts.port }),
      ...(opts.monitorPort === undefined ? {} : { monitorPort: opts.monitorPort }),
      ...(opts.log === undefined ? {} : { log: opts.log }),
      ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
    });
  }
  return startNatsStreaming({ clusterId: 'ticketing', ...opts });
}

/** The environment that points a service at a bus server. */
export function busServerEnv(server: BusServer): Record<string, string> {
  return { NATS_URL: server.url, NATS_CLUSTER_ID: server.clusterId, EVENT_BUS: server.transport };
}

// ---------------------------------------------------------------------------------------------------
// Redis

export interface StartRedisOptions extends CommonStartOptions {
  port?: number;
  /** Persist (append-only file) here when given; no persistence at all when absent. */
  dataDir?: string;
}

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const external = externalServer('redis');
  if (external !== undefined) return { url: external, stop: async () => {} };

  const tool = await ensureTool('redis', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'redis');
  const persistence = opts.dataDir === undefined ? undefined : ensureDir(opts.dataDir);
  return startOnFreePort(opts.port, async (port) => {
    const args = [
      ...['--port', String(port), '--bind', HOST, '--save', ''],
      ...(persistence === undefined ? ['--appendonly', 'no'] : ['--dir', persistence, '--appendonly', 'yes']),
    ];
    const proc = spawnManaged('redis-server', binary, args);
    await waitUntilReady(proc, `Redis on port ${port}`, () => redisPing(HOST, port), readyOpts(opts));
    return { url: `redis://${HOST}:${port}`, stop: once(() => proc.stop()) };
  });
}

// ---------------------------------------------------------------------------------------------------
// stripe-mock

export type StartStripeMockOptions = CommonStartOptions & { port?: number };

export interface StripeMockServer {
  /** http://127.0.0.1:PORT: point the Stripe client's host/port/protocol here. */
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startStripeMock(opts: StartStripeMockOptions = {}): Promise<StripeMockServer> {
  const external = externalServer('stripe');
  if (external !== undefined) {
    return { url: external, host: new URL(external).hostname, port: portOf(external, 12111), stop: async () => {} };
  }

  const tool = await ensureTool('stripe', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'stripe');
  return startOnFreePort(opts.port, async (port) => {
    // stripe-mock still opens HTTPS on its default :12112 when only -http-addr is given (its check for
    // "HTTP chosen explicitly" ignores -http-addr), so two runs would collide there: give HTTPS a
    // port the OS picks. Nobody uses it.
    const args = ['-http-addr', `${HOST}:${port}`, '-https-addr', `${HOST}:0`];
    const proc = spawnManaged('stripe-mock', binary, args);
    const url = `http://${HOST}:${port}`;
    await waitUntilReady(
      proc,
      `stripe-mock on port ${port}`,
      () => expectHttp200(`${url}/v1/charges`, { Authorization: 'Bearer sk_test_123' }),
      readyOpts(opts),
    );
    return { url, host: HOST, port, stop: once(() => proc.stop()) };
  });
}

// ---------------------------------------------------------------------------------------------------
// helpers

function readyOpts(opts: CommonStartOptions): { timeoutMs?: number } {
  return opts.readyTimeoutMs === undefined ? {} : { timeoutMs: opts.readyTimeoutMs };
}

function requireBinary(binary: string | undefined, tool: ToolName): string {
  // ensureTool returns no path only for an external server, which the callers handled before.
  if (binary === undefined) throw new Error(`no binary for ${tool}`);
  return binary;
}

function ensureDir(dir: string): string {
  const absolute = path.resolve(dir);
  mkdirSync(absolute, { recursive: true });
  return absolute;
}

/**
 * Runs `start` with the given data directory, or with a fresh temporary one that is deleted when the
 * server stops, when the start fails, or at the latest when this process exits.
 */
async function withDataDir<T>(
  name: string,
  dataDir: string | undefined,
  start: (dir: string, release: () => void) => Promise<T>,
): Promise<T> {
  if (dataDir !== undefined) return start(ensureDir(dataDir), () => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), `ticketing-${name}-`));
  trackTempDir(dir);
  const release = (): void => removeTempDir(dir);
  try {
    return await start(dir, release);
  } catch (error) {
    release();
    throw error;
  }
}

function portOf(url: string, fallback: number): number {
  try {
    const port = new URL(url).port;
    return port === '' ? fallback : Number(port);
  } catch {
    return fallback;
  }
}

/** Makes stop() idempotent: calling it twice (teardown after a failed test) waits for the first call. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
