import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { reportError } from '../errors';

export interface ShutdownStep {
  name: string;
  close: () => Promise<void>;
}

/** Longest a keep-alive connection may sit idle once the server is closing. */
const DRAIN_KEEP_ALIVE_MS = 1_000;

/** Stops accepting connections and resolves once every in-flight request has been answered. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    // A busy keep-alive connection (the gateway's, a load balancer's) is never idle, so close() alone
    // would wait for the shutdown deadline while its client kept sending. Requests that still arrive
    // on an open connection are served and answered with `Connection: close`, so the client moves to
    // a new connection (refused: nothing listens any more) instead of having one cut under it...
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    });
    // ...and a connection whose client falls silent after its last answer is closed soon. Idle ones
    // are closed after the same delay rather than at once: a client may be writing its next request
    // on one right now, and cutting it would fail that request.
    if (server.keepAliveTimeout === 0 || server.keepAliveTimeout > DRAIN_KEEP_ALIVE_MS) {
      server.keepAliveTimeout = DRAIN_KEEP_ALIVE_MS;
    }
    const idleTimer = setTimeout(() => server.closeIdleConnections(), DRAIN_KEEP_ALIVE_MS);
    idleTimer.unref();
    server.close((err) => {
      clearTimeout(idleTimer);
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * Runs the steps in order (HTTP first, so no new work arrives; then the bus; then Mongo) and exits 0.
 * A step that hangs past the deadline makes the process exit 1 rather than linger forever.
 */
export function handleShutdown(opts: {
  logger: Logger;
  steps: ShutdownStep[];
  timeoutMs?: number;
  exit?: (code: number) => void;
}): (signal: string) => Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let started = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (started) return;
    started = true;
    opts.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      opts.logger.error('shutdown timed out');
      exit(1);
    }, opts.timeoutMs ?? 15_000);
    timer.unref();
    let code = 0;
    for (const step of opts.steps) {
      try {
        await step.close();
      } catch (err) {
        code = 1;
        opts.logger.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    clearTimeout(timer);
    opts.logger.info('shutdown complete');
    exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}

/** Last-resort handlers: a stray rejection is logged, never a silent crash loop. */
export function installProcessHandlers(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    reportError(logger, reason, 'process', {}, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    // The process state is unknown after it, so it exits (and is restarted by its supervisor).
    reportError(logger, err, 'process', {}, 'uncaught exception; exiting');
    process.exit(1);
  });
}
