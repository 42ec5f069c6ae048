import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Histogram, LATENCY_BUCKETS, metricsRegistry } from './registry';

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP requests by route template (e.g. /api/tickets/:id) and status, from arrival to the answer sent (or the client gone)',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/**
 * The route template of a request Express matched, or "unmatched" (a 404 from the catch-all, a
 * body the JSON parser refused): one series per template, never one per URL, so an id in the path
 * or a scanner's random URLs cannot blow up the number of series.
 */
function routeOf(req: Request): string {
  // Express types req.route as any; it is the matched Route, whose path is the template.
  const route: unknown = (req as { route?: unknown }).route;
  const path: unknown = typeof route === 'object' && route !== null ? (route as { path?: unknown }).path : undefined;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

/** Times every request; mounted first by createApp so its clock starts before anything else runs. */
export function httpMetrics(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const end = httpRequestDuration.startTimer();
    res.once('close', () => {
      end({ method: req.method, route: routeOf(req), status: String(res.statusCode) });
    });
    next();
  };
}
