import autocannon from 'autocannon';
import { round } from './stats';

/**
 * Closed-loop load with autocannon: a fixed number of connections, each sending its next request as
 * soon as the previous answer arrived. Throughput counts 2xx answers only.
 */

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** The same body on every request... */
  body?: string;
  /** ...or a new one per request (each ticket ordered once). */
  nextBody?: () => string;
  /** Headers added per request, over `headers` (each order from a buyer of its own). */
  nextHeaders?: () => Record<string, string>;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS?: number;
  /** Stop after this many requests. */
  amount?: number;
  /** With a duration: stop early after this many (when each request consumes something, a ticket). */
  maxRequests?: number;
}

export interface LoadResult {
  /** 2xx answers per second. */
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
}

export async function load(spec: LoadSpec): Promise<LoadResult> {
  const headers = { 'content-type': 'application/json', ...spec.headers };
  const { nextBody, nextHeaders } = spec;
  const result = await autocannon({
    url: spec.url,
    method: spec.method,
    headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
    connections: spec.connections,
    ...(spec.amount === undefined ? { duration: spec.durationS ?? 5 } : { amount: spec.amount }),
    ...(spec.maxRequests === undefined ? {} : { maxOverallRequests: spec.maxRequests }),
    ...(nextBody === undefined && nextHeaders === undefined
      ? {}
      : {
          requests: [
            {
              method: spec.method,
              setupRequest: (req) => ({
                ...req,
                ...(nextBody === undefined ? {} : { body: nextBody() }),
                ...(nextHeaders === undefined ? {} : { headers: { ...req.headers, ...nextHeaders() } }),
              }),
            },
          ],
        }),
    // Keep-alive connections, like the gateway's to the services.
    timeout: 30,
  });
  const durationS = result.duration;
  return {
    rps: round(result['2xx'] / durationS, 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    durationS: round(durationS, 2),
  };
}
