/** Starts the bus servers: NATS Streaming, or nats-server with JetStream, and the environment that points at one. */
import { freePort, spawnManaged, startOnFreePort, waitUntilReady, type ManagedProcess } from './infra-process';
import type { BusTransport } from '@ticketing/common';
import { expectHttp200, natsInfo } from './infra-probes';
import { externalServer, stderrLog } from './infra-tool-names';
import { ensureTool } from './infra-tools';
import { HOST, once, portOf, readyOpts, requireBinary, withDataDir, type CommonStartOptions } from './infra-start';

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
