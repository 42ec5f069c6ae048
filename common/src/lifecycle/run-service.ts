import http, { type RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError } from '../config';
import { createBus, makeClientId, type Bus, type BusTransport } from '../events';
import { closeHttpServer, handleShutdown, installProcessHandlers, type ShutdownStep } from './shutdown';

/**
 * The shape of every service's main.ts: `start` parses config, connects, starts listeners and the
 * HTTP server, and returns its shutdown steps in order (HTTP first). A config error exits 1 with the
 * list of problems; any other start-up failure exits 1 with the error logged.
 */
export function runService(name: string, logger: Logger, start: () => Promise<ShutdownStep[]>): void {
  installProcessHandlers(logger);
  start().then(
    (steps) => {
      handleShutdown({ logger, steps });
    },
    (err: unknown) => {
      if (err instanceof ConfigError) logger.fatal(err.message);
      else logger.fatal({ err }, `${name} failed to start`);
      process.exit(1);
    },
  );
}

export interface BusConfig {
  NATS_URL: string;
  NATS_CLUSTER_ID: string;
  NATS_CLIENT_ID: string | undefined;
  /** 'stan' when absent. */
  EVENT_BUS?: BusTransport;
  JETSTREAM_MAX_DELIVER?: number;
  JETSTREAM_REPLICAS?: number;
}

/** A connected bus for a service, with its unique client id; keeps retrying until the server answers. */
export async function connectServiceBus(service: string, config: BusConfig, logger: Logger): Promise<Bus> {
  const bus = createBus({
    transport: config.EVENT_BUS ?? 'stan',
    url: config.NATS_URL,
    clusterId: config.NATS_CLUSTER_ID,
    clientId: makeClientId(service, config.NATS_CLIENT_ID),
    logger,
    ...(config.JETSTREAM_MAX_DELIVER === undefined ? {} : { maxDeliver: config.JETSTREAM_MAX_DELIVER }),
    ...(config.JETSTREAM_REPLICAS === undefined ? {} : { streamReplicas: config.JETSTREAM_REPLICAS }),
  });
  await bus.connect();
  return bus;
}

/**
 * Resolves with the server's shutdown step once it is listening; rejects when it cannot listen (a
 * port in use, say), so the start fails and the process exits 1 with the error. Express 5's
 * `app.listen(port, callback)` calls the callback on an 'error' event too: taken as "listening", a
 * port clash left the service running without its API while another process answered on its port.
 */
export function listenHttp(app: RequestListener, port: number, name: string, logger: Logger): Promise<ShutdownStep> {
  const server = http.createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      logger.info({ port }, `${name} listening`);
      resolve({ name: 'http', close: () => closeHttpServer(server) });
    });
  });
}
