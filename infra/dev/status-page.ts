import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseMetrics, sumMetric, type MetricSample } from '../../common/src/metrics/parse';
import { sendJson, type GatewayPage } from './gateway';

/**
 * The dev stack's status page: the gateway's /_status (HTML, refreshing itself) and /_status.json,
 * for clients on this machine only (loopback; the Ingress has no such path). Each request asks every
 * service for /readyz and scrapes its metrics port (never exposed through the gateway); rates and
 * lags are over the interval since the previous look, so a page left open shows what is happening
 * now rather than averages since start.
 */

export interface StatusTarget {
  name: string;
  state: string;
  /** http://127.0.0.1:PORT ('' when not running). */
  url: string;
  metricsUrl: string;
}

export interface ServiceStatus {
  name: string;
  state: string;
  ready: boolean;
  checks: Record<string, boolean>;
  /** HTTP requests per second since the previous look (undefined on the first). */
  requestRate: number | undefined;
  requestsTotal: number;
  /** Share of 5xx answers since the previous look. */
  errorRatio: number | undefined;
  /** Mean event lag (publish to ack), seconds, since the previous look; undefined without events. */
  eventLagSeconds: number | undefined;
  eventsHandled: number;
  eventsRetried: number;
  outboxPending: number;
  outboxOldestSeconds: number;
  /** expiration only: jobs waiting in Redis. */
  queuedJobs: number | undefined;
  /** Where its Prometheus metrics are ('' when not running). */
  metricsUrl: string;
  /** Why figures are missing ('' when they are not). */
  note: string;
}

export interface StackStatus {
  at: string;
  services: ServiceStatus[];
}

interface Snapshot {
  at: number;
  requests: number;
  errors: number;
  lagSum: number;
  lagCount: number;
}

const TIMEOUT_MS = 1_500;

async function fetchText(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined;
  }
}

export class StatusCollector {
  private readonly previous = new Map<string, Snapshot>();

  constructor(private readonly targets: () => StatusTarget[]) {}

  async collect(): Promise<StackStatus> {
    const services = await Promise.all(this.targets().map((t) => this.one(t)));
    return { at: new Date().toISOString(), services };
  }

  private async one(target: StatusTarget): Promise<ServiceStatus> {
    const base: ServiceStatus = {
      name: target.name,
      state: target.state,
      ready: false,
      checks: {},
      requestRate: undefined,
      requestsTotal: 0,
      errorRatio: undefined,
      eventLagSeconds: undefined,
      eventsHandled: 0,
      eventsRetried: 0,
      outboxPending: 0,
      outboxOldestSeconds: 0,
      queuedJobs: undefined,
      metricsUrl: target.metricsUrl,
      note: '',
    };
    if (target.url === '') return { ...base, note: 'not running' };
    const [ready, metrics] = await Promise.all([fetchText(`${target.url}/readyz`), fetchText(target.metricsUrl)]);
    if (ready !== undefined) {
      base.ready = ready.status === 200;
      try {
        base.checks = (JSON.parse(ready.text) as { checks?: Record<string, boolean> }).checks ?? {};
      } catch {
        // Not the services' JSON: readiness stays false.
      }
    }
    if (metrics === undefined || metrics.status !== 200) return { ...base, note: 'metrics unavailable' };
    return { ...base, ...this.figures(target.name, parseMetrics(metrics.text)) };
  }

  private figures(name: string, samples: MetricSample[]): Partial<ServiceStatus> {
    const requests = sumMetric(samples, 'http_request_duration_seconds_count');
    const errors = samples
      .filter((s) => s.name === 'http_request_duration_seconds_count' && (s.labels['status'] ?? '').startsWith('5'))
      .reduce((sum, s) => sum + s.value, 0);
    const now: Snapshot = {
      at: Date.now(),
      requests,
      errors,
      lagSum: sumMetric(samples, 'event_lag_seconds_sum'),
      lagCount: sumMetric(samples, 'event_lag_seconds_count'),
    };
    const before = this.previous.get(name);
    this.previous.set(name, now);
    const seconds = before === undefined ? 0 : (now.at - before.at) / 1000;
    const fresh = before !== undefined && seconds > 0 && now.requests >= before.requests;
    const dRequests = fresh ? now.requests - before.requests : 0;
    const dLagCount = fresh ? now.lagCount - before.lagCount : 0;
    const queue = samples.filter((s) => s.name === 'expiration_queue_jobs');
    return {
      requestsTotal: requests,
      requestRate: fresh ? dRequests / seconds : undefined,
      errorRatio: fresh && dRequests > 0 ? (now.errors - before.errors) / dRequests : undefined,
      eventLagSeconds:
        dLagCount > 0 && before !== undefined
          ? (now.lagSum - before.lagSum) / dLagCount
          : now.lagCount > 0
            ? now.lagSum / now.lagCount
            : undefined,
      eventsHandled: sumMetric(samples, 'event_handling_duration_seconds_count', { outcome: 'acked' }),
      eventsRetried: sumMetric(samples, 'event_handling_duration_seconds_count', { outcome: 'retried' }),
      outboxPending: sumMetric(samples, 'outbox_pending_entries'),
      outboxOldestSeconds: sumMetric(samples, 'outbox_oldest_pending_age_seconds'),
      queuedJobs: queue.length === 0 ? undefined : queue.reduce((sum, s) => sum + s.value, 0),
    };
  }
}

const escape = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

function fixed(value: number | undefined, digits: number, unit = ''): string {
  return value === undefined ? '–' : `${value.toFixed(digits)}${unit}`;
}

export function renderStatusPage(status: StackStatus): string {
  const rows = status.services
    .map((s) => {
      const checks = Object.entries(s.checks)
        .map(([name, ok]) => `<span class="${ok ? 'ok' : 'bad'}">${escape(name)}</span>`)
        .join(' ');
      return `<tr>
<td><b>${escape(s.name)}</b></td>
<td class="${s.ready ? 'ok' : 'bad'}">${s.ready ? 'ready' : escape(s.state === 'ready' ? 'not ready' : s.state)}</td>
<td>${checks}</td>
<td class="num">${fixed(s.requestRate, 1, '/s')}</td>
<td class="num">${s.requestsTotal}</td>
<td class="num">${s.errorRatio === undefined ? '–' : `${(s.errorRatio * 100).toFixed(1)} %`}</td>
<td class="num">${s.eventLagSeconds === undefined ? '–' : `${(s.eventLagSeconds * 1000).toFixed(0)} ms`}</td>
<td class="num">${s.eventsHandled}${s.eventsRetried > 0 ? ` <span class="warn">(${s.eventsRetried} retried)</span>` : ''}</td>
<td class="num ${s.outboxPending > 0 ? 'warn' : ''}">${s.outboxPending}${s.outboxPending > 0 ? ` (oldest ${s.outboxOldestSeconds.toFixed(1)} s)` : ''}</td>
<td class="num">${s.queuedJobs ?? '–'}</td>
</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ticketing: status</title>
<meta http-equiv="refresh" content="3">
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:2rem;color:#1d232a}
table{border-collapse:collapse}th,td{padding:6px 12px;border-bottom:1px solid #e2e6ea;text-align:left}
th{font-size:12px;text-transform:uppercase;color:#5b6670}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1e8a4c}.bad{color:#c0392b;font-weight:600}.warn{color:#b26a00}
td span{margin-right:.4rem}small{color:#5b6670}
</style></head><body>
<h1>ticketing stack</h1>
<table>
<tr><th>service</th><th>state</th><th>checks</th><th>requests</th><th>total</th><th>5xx</th><th>event lag</th><th>events acked</th><th>outbox backlog</th><th>queued</th></tr>
${rows}
</table>
<p><small>${escape(status.at)} · refreshes every 3 s · rates and lags since the previous refresh ·
<a href="/_status.json">/_status.json</a> · <a href="/api/docs">API docs</a> ·
metrics: each service's own port (see /_status.json), not behind the gateway</small></p>
</body></html>
`;
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(html);
}

/** The gateway pages of the status page; `targets` is read at each request. */
export function statusPages(targets: () => StatusTarget[]): GatewayPage[] {
  const collector = new StatusCollector(targets);
  return [
    {
      path: '/_status',
      loopbackOnly: true,
      handle: async (_req: IncomingMessage, res: ServerResponse) =>
        sendHtml(res, renderStatusPage(await collector.collect())),
    },
    {
      path: '/_status.json',
      loopbackOnly: true,
      handle: async (_req: IncomingMessage, res: ServerResponse) => sendJson(res, 200, await collector.collect()),
    },
  ];
}

export { sendHtml };
