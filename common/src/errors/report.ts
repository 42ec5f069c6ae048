import type { Logger } from 'pino';
import { toAppError } from './to-app-error';

/** Where an error surfaced: a request, an event's handling, or the process itself. */
export type ErrorSource = 'http' | 'listener' | 'process';

/**
 * What an error says about the system: `expected` is the caller's mistake (a 4xx: not worth a log
 * line above debug), `transient` is infrastructure away for a while (a 5xx the caller may retry:
 * a warning), `bug` is anything nothing maps (an error line, with the stack, to be fixed).
 */
export type ErrorKind = 'expected' | 'transient' | 'bug';

export function classifyError(err: unknown): ErrorKind {
  const appError = toAppError(err);
  if (appError === undefined) return 'bug';
  return appError.statusCode >= 500 ? 'transient' : 'expected';
}

/**
 * The one way an error is logged, by the HTTP error handler, the listener base and the process
 * handlers: the same fields (`err`, `source`, `errorKind`, the caller's context) and a level chosen by
 * its kind, so that a dashboard or an alert on error lines sees bugs and only bugs. Whatever reaches
 * the process handlers escaped every handler, so it is an error line there whatever its kind.
 */
export function reportError(
  logger: Logger,
  err: unknown,
  source: ErrorSource,
  context: Record<string, unknown> = {},
  message?: string,
): ErrorKind {
  const errorKind = classifyError(err);
  const fields = { err, source, errorKind, ...context };
  const text = message ?? (err instanceof Error ? err.message : 'non-error thrown');
  if (errorKind === 'bug' || source === 'process') logger.error(fields, message ?? `unhandled error: ${text}`);
  else if (errorKind === 'transient') logger.warn(fields, text);
  // Expected in a request (the caller's mistake); in an event's handling it still stops the event.
  else if (source === 'http') logger.debug(fields, text);
  else logger.warn(fields, text);
  return errorKind;
}
