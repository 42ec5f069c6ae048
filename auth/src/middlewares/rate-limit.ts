import { TooManyRequestsError } from '@ticketing/common';
import type { RequestHandler } from 'express';

/**
 * A fixed-window limit per client IP, in memory: enough to blunt password guessing against one
 * instance. With several replicas each keeps its own count (a shared store such as Redis would make
 * the limit global; auth has no Redis today). The IP is the one our own proxy appended to
 * X-Forwarded-For (createApp trusts TRUST_PROXY_HOPS hops), not one the client claims.
 */
export function rateLimit(opts: { limit: number; windowMs: number; now?: () => number }): RequestHandler {
  const now = opts.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = now();
  return (req, res, next) => {
    const t = now();
    if (t - lastSweep > opts.windowMs) {
      // Forget finished windows so the map does not grow with every client ever seen.
      for (const [key, w] of windows) if (t - w.start >= opts.windowMs) windows.delete(key);
      lastSweep = t;
    }
    const key = req.ip ?? 'unknown';
    let w = windows.get(key);
    if (w === undefined || t - w.start >= opts.windowMs) {
      w = { start: t, count: 0 };
      windows.set(key, w);
    }
    w.count += 1;
    if (w.count > opts.limit) {
      const retryAfter = Math.ceil((w.start + opts.windowMs - t) / 1000);
      res.setHeader('Retry-After', String(retryAfter));
      throw new TooManyRequestsError(retryAfter);
    }
    next();
  };
}
