import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** Per-request context, so code far from the request (publishers, the outbox) can tag its work. */
export interface RequestContext {
  requestId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

/**
 * The logger is created before config is parsed (config errors must be logged too), so it reads
 * LOG_LEVEL itself. Tests are silent unless LOG_LEVEL asks otherwise.
 */
export function createLogger(service: string): Logger {
  const level = process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'silent' : 'info');
  return pino({
    level,
    base: { service },
    mixin: () => {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
  });
}
