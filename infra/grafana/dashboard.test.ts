import { readFileSync } from 'node:fs';
import { DASHBOARD_FILE, buildDashboard, dashboardJson, queriedMetrics } from './dashboard';

describe('infra/grafana/ticketing.json', () => {
  it('is what infra/grafana/dashboard.ts builds (regenerate: npx tsx infra/grafana/dashboard.ts)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(dashboardJson());
  });

  it('queries the metrics of the issue: HTTP, events, replicas, outbox, expiration, Stripe, Node', () => {
    expect(queriedMetrics()).toEqual(
      expect.arrayContaining([
        'http_request_duration_seconds',
        'event_handling_duration_seconds',
        'event_lag_seconds',
        'replica_apply_lag_seconds',
        'outbox_pending_entries',
        'outbox_oldest_pending_age_seconds',
        'expiration_queue_jobs',
        'expiration_lateness_seconds',
        'stripe_request_duration_seconds',
        'process_cpu_seconds_total',
      ]),
    );
  });

  it('gives every panel a unique id and a Prometheus query', () => {
    const panels = buildDashboard()['panels'] as Array<{ id: number; type: string; targets?: Array<{ expr: string }> }>;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) expect(panel.targets?.[0]?.expr).toMatch(/\w+/);
  });
});
