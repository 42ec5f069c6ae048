import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The one Prometheus registry of the process. Metrics are defined once, at module level (common's
 * below, a service's next to the code it measures), so several apps built in one test process share
 * them instead of registering a name twice.
 */
export const metricsRegistry = new Registry();

export { Counter, Gauge, Histogram };

/** Seconds, from 5 ms to 10 s: HTTP requests, event handlers, Stripe calls. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, from 10 ms to 10 min: how long after its cause something happened (lags, lateness). */
export const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];

let defaultsOn = false;

/**
 * Names the service on every series (`service="orders"`) and turns on Node's process metrics (CPU,
 * memory, event-loop lag, GC). Called by the metrics server, once per process, not at import: a
 * test process that builds apps must not start Node's collectors.
 */
export function enableProcessMetrics(service: string): void {
  metricsRegistry.setDefaultLabels({ service });
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Seconds since a time given in milliseconds (Date.now() scale), never negative (clock skew). */
export function secondsSince(ms: number, now = Date.now()): number {
  return Math.max(0, now - ms) / 1000;
}
