import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** Probes are not worth a line each. */
const QUIET = new Set(['/healthz', '/readyz']);

/**
 * One log line per request, written when the response is done: method, url, remote address,
 * status, response time and the request id. Never the headers: they carry the session cookie (a
 * bearer credential) in and set-cookie out.
 *
 * Written here rather than with pino-http, which builds a child logger and its serialisers' input
 * for every request, even when the level drops the line: 0.3 ms of CPU or more per request in the
 * tickets service on the bench machine. Here a request costs nothing when `info` is off (the bench
 * runs at `warn`), and one listener and one line when it is on.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isLevelEnabled('info') || QUIET.has(req.path)) {
      next();
      return;
    }
    const started = performance.now();
    const { method, originalUrl: url } = req;
    const remoteAddress = req.socket.remoteAddress;
    // 'close' follows 'finish' for a completed response, and comes alone when the client went away.
    res.once('close', () => {
      const line = {
        requestId: res.getHeader('x-request-id'),
        req: { method, url, remoteAddress },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      if (res.writableFinished) logger.info(line, 'request completed');
      else logger.warn(line, 'request aborted');
    });
    next();
  };
}
