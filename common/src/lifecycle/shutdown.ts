import type { Server } from 'node:http';
import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  close: () => Promise<void>;
}

/** Stops accepting connections and resolves once every in-flight request has been answered. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close((err) => (err ? reject(err) : resolve()));
    // Keep-alive sockets with no request in flight would otherwise hold close() open.
    server.closeIdleConnections();
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
    logger.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
}
