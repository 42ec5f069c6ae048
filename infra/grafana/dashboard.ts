/**
 * The Grafana dashboard of the system, as code: `npx tsx infra/grafana/dashboard.ts` writes
 * infra/grafana/ticketing.json (import it in Grafana, pick the Prometheus data source). A test
 * (dashboard.test.ts) fails when the committed JSON differs from what this builds, and the e2e
 * observability test checks that every metric a panel queries is served by some service.
 */
/* eslint-disable max-lines -- mostly the list of panels (data), kept in one file as the dashboard is one page. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

interface Panel {
  title: string;
  description: string;
  unit: string;
  /** PromQL, one series per legend entry. */
  targets: Array<{ expr: string; legend: string }>;
  kind?: 'timeseries' | 'stat';
}

const rate = (metric: string, by: string, window = '$__rate_interval'): string =>
  `sum by (${by}) (rate(${metric}[${window}]))`;
const quantile = (q: number, metric: string, by: string): string =>
  `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket[$__rate_interval])))`;

const rows: Array<{ title: string; panels: Panel[] }> = [
  {
    title: 'HTTP',
    panels: [
      {
        title: 'Requests per second by service',
        description: 'Every API request a service answered (health checks included)',
        unit: 'reqps',
        targets: [{ expr: rate('http_request_duration_seconds_count', 'service'), legend: '{{service}}' }],
      },
      {
        title: 'Error ratio (5xx) by service',
        description: 'Share of answers with a 5xx status',
        unit: 'percentunit',
        targets: [
          {
            expr:
              'sum by (service) (rate(http_request_duration_seconds_count{status=~"5.."}[$__rate_interval])) / ' +
              rate('http_request_duration_seconds_count', 'service'),
            legend: '{{service}}',
          },
        ],
      },
      {
        title: 'Latency p95 by route',
        description: 'From arrival to the answer, per route template',
        unit: 's',
        targets: [
          {
            expr: quantile(0.95, 'http_request_duration_seconds', 'service, method, route'),
            legend: '{{method}} {{route}}',
          },
        ],
      },
      {
        title: 'Answers by status',
        description: 'Per route template and status',
        unit: 'reqps',
        targets: [
          { expr: rate('http_request_duration_seconds_count', 'route, status'), legend: '{{route}} {{status}}' },
        ],
      },
    ],
  },
  {
    title: 'Events',
    panels: [
      {
        title: 'Deliveries by outcome',
        description: 'acked: effect stored; retried: left for redelivery; poison: unreadable, dropped',
        unit: 'ops',
        targets: [
          {
            expr: rate('event_handling_duration_seconds_count', 'queue_group, subject, outcome'),
            legend: '{{queue_group}} {{subject}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Handler duration p95',
        description: 'Time a listener takes to handle one delivery',
        unit: 's',
        targets: [
          {
            expr: quantile(0.95, 'event_handling_duration_seconds', 'queue_group, subject'),
            legend: '{{queue_group}} {{subject}}',
          },
        ],
      },
      {
        title: 'Event lag p95 (publish to ack)',
        description: "From an event's publication to a consumer acking it",
        unit: 's',
        targets: [
          { expr: quantile(0.95, 'event_lag_seconds', 'queue_group, subject'), legend: '{{queue_group}} {{subject}}' },
        ],
      },
      {
        title: 'Replica apply lag p95',
        description: "From an owner's event to its change applied to orders' tickets and payments' orders",
        unit: 's',
        targets: [
          { expr: quantile(0.95, 'replica_apply_lag_seconds', 'service, replica'), legend: '{{service}}: {{replica}}' },
        ],
      },
    ],
  },
  {
    title: 'Outbox, expiration, Stripe',
    panels: [
      {
        title: 'Outbox backlog',
        description: 'Entries stored and not yet published (a bus outage makes this grow)',
        unit: 'short',
        targets: [
          { expr: 'sum by (service) (outbox_pending_entries)', legend: '{{service}} pending' },
          { expr: 'sum by (service) (outbox_unknown_outcome_entries)', legend: '{{service}} unknown outcome' },
        ],
      },
      {
        title: 'Oldest pending outbox entry',
        description: 'Age of the oldest unpublished event',
        unit: 's',
        targets: [{ expr: 'max by (service) (outbox_oldest_pending_age_seconds)', legend: '{{service}}' }],
      },
      {
        title: 'Expiration queue',
        description: 'Jobs in Redis by state',
        unit: 'short',
        targets: [{ expr: 'sum by (state) (expiration_queue_jobs)', legend: '{{state}}' }],
      },
      {
        title: 'Expiration lateness p95',
        description: "From an order's expiresAt to expiration:complete published",
        unit: 's',
        targets: [
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(expiration_lateness_seconds_bucket[$__rate_interval])))',
            legend: 'p95',
          },
        ],
      },
      {
        title: 'Stripe calls by outcome',
        description: 'ok, declined, rejected, error, network',
        unit: 'ops',
        targets: [
          {
            expr: rate('stripe_request_duration_seconds_count', 'endpoint, outcome'),
            legend: '{{endpoint}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Stripe call duration p95',
        description: 'Per attempt',
        unit: 's',
        targets: [{ expr: quantile(0.95, 'stripe_request_duration_seconds', 'endpoint'), legend: '{{endpoint}}' }],
      },
    ],
  },
  {
    title: 'Node processes',
    panels: [
      {
        title: 'CPU',
        description: 'Seconds of CPU per second',
        unit: 'percentunit',
        targets: [{ expr: rate('process_cpu_seconds_total', 'service'), legend: '{{service}}' }],
      },
      {
        title: 'Resident memory',
        description: 'RSS',
        unit: 'bytes',
        targets: [{ expr: 'sum by (service) (process_resident_memory_bytes)', legend: '{{service}}' }],
      },
      {
        title: 'Event-loop lag p99',
        description: 'How long a ready callback waits for the loop',
        unit: 's',
        targets: [{ expr: 'max by (service) (nodejs_eventloop_lag_p99_seconds)', legend: '{{service}}' }],
      },
      {
        title: 'Heap used',
        description: 'V8 heap in use',
        unit: 'bytes',
        targets: [{ expr: 'sum by (service) (nodejs_heap_size_used_bytes)', legend: '{{service}}' }],
      },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

export function buildDashboard(): Record<string, unknown> {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    row.panels.forEach((panel, i) => {
      panels.push({
        id: id++,
        type: panel.kind ?? 'timeseries',
        title: panel.title,
        description: panel.description,
        datasource: DATASOURCE,
        gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8 },
        fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi' } },
        targets: panel.targets.map((t, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource: DATASOURCE,
          expr: t.expr,
          legendFormat: t.legend,
        })),
      });
    });
    y += Math.ceil(row.panels.length / 2) * 8;
  }
  return {
    title: 'ticketing',
    uid: 'ticketing-overview',
    description: 'HTTP, events, outbox, expiration, Stripe and the Node processes of the ticketing services',
    tags: ['ticketing'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {} }],
    },
    panels,
  };
}

/** Metric names the panels query (histograms by their base name, without _bucket/_sum/_count). */
export function queriedMetrics(): string[] {
  const names = new Set<string>();
  for (const row of rows) {
    for (const panel of row.panels) {
      for (const target of panel.targets) {
        for (const [name] of target.expr.matchAll(
          /\b[a-z_]+_(?:seconds|bytes|entries|jobs|total)(?:_bucket|_sum|_count)?\b/g,
        )) {
          names.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
  }
  return [...names].sort();
}

export const DASHBOARD_FILE = path.join(__dirname, 'ticketing.json');

export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(DASHBOARD_FILE, dashboardJson());
  process.stdout.write(`wrote ${path.relative(process.cwd(), DASHBOARD_FILE)}\n`);
}
