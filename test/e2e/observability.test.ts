import { eventually } from '@ticketing/common/testing';
import { parseMetrics, type MetricSample } from '../../common/src/metrics/parse';
import { openApiDocument, operations } from '../../api/openapi';
import { queriedMetrics } from '../../infra/grafana/dashboard';
import type { StackStatus, Stack } from '@ticketing/devinfra';
import { STACK_START_TIMEOUT_MS, orderWhenKnown, payWhenKnown, sellTicket, signUp, startE2eStack } from './harness';

/**
 * What an operator and a client developer get from the running stack: every service's /metrics on
 * its own port (after a purchase went through, so the figures are real), nothing of it through the
 * gateway, the status page, and the API document.
 */

let stack: Stack;
const scraped = new Map<string, { text: string; samples: MetricSample[] }>();

beforeAll(async () => {
  stack = await startE2eStack();
  const seller = await signUp(stack.baseUrl);
  const buyer = await signUp(stack.baseUrl);
  const ticket = await sellTicket(seller, 30);
  const order = await orderWhenKnown(buyer, ticket.id);
  if (order.status !== 201) throw new Error(`POST /api/orders answered ${order.status}: ${JSON.stringify(order.body)}`);
  expect((await payWhenKnown(buyer, order.body.id)).status).toBe(201);
  // Payments' order:completed travels back to orders, tickets and expiration: wait until every
  // consumer has acked something, then scrape.
  await eventually(
    async () => {
      for (const service of stack.services) {
        const res = await fetch(service.metricsUrl);
        const text = await res.text();
        scraped.set(service.name, { text, samples: parseMetrics(text) });
      }
      // The last events of the purchase: payment:created (to orders), then order:completed (to the rest).
      const last: Array<[string, string]> = [
        ['orders', 'payment:created'],
        ['tickets', 'order:completed'],
        ['expiration', 'order:completed'],
        ['payments', 'order:completed'],
      ];
      for (const [name, subject] of last) {
        const acked = scraped
          .get(name)
          ?.samples.some(
            (s) =>
              s.name === 'event_handling_duration_seconds_count' &&
              s.labels['subject'] === subject &&
              s.labels['outcome'] === 'acked',
          );
        expect({ name, subject, acked }).toEqual({ name, subject, acked: true });
      }
      const replicas = ['orders', 'payments'].map((name) =>
        scraped.get(name)?.samples.some((s) => s.name === 'replica_apply_lag_seconds_count' && s.value > 0),
      );
      expect(replicas).toEqual([true, true]);
    },
    { timeoutMs: 20_000 },
  );
}, STACK_START_TIMEOUT_MS);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const names = (service: string): Set<string> =>
  new Set(scraped.get(service)?.samples.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')) ?? []);

describe('/metrics of every service', () => {
  it('answers on each service’s own metrics port, every series labelled with the service', () => {
    for (const service of stack.services) {
      const samples = scraped.get(service.name)?.samples ?? [];
      expect({ service: service.name, cpu: names(service.name).has('process_cpu_seconds_total') }).toEqual({
        service: service.name,
        cpu: true,
      });
      expect(samples.every((s) => s.labels['service'] === service.name)).toBe(true);
    }
  });

  it('times the requests of the purchase by route template and status', () => {
    const count = (service: string, route: string, status: string): number =>
      (scraped.get(service)?.samples ?? [])
        .filter((s) => s.name === 'http_request_duration_seconds_count')
        .filter((s) => s.labels['route'] === route && s.labels['status'] === status)
        .reduce((sum, s) => sum + s.value, 0);
    expect(count('auth', '/api/users/signup', '201')).toBe(2);
    expect(count('tickets', '/api/tickets', '201')).toBe(1);
    expect(count('orders', '/api/orders', '201')).toBe(1);
    expect(count('payments', '/api/payments', '201')).toBe(1);
  });

  it('shows the Stripe call, the outbox backlog and the expiration queue', () => {
    const payments = scraped.get('payments')?.samples ?? [];
    const charges = payments.filter(
      (s) => s.name === 'stripe_request_duration_seconds_count' && s.labels['outcome'] === 'ok',
    );
    expect(charges.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThanOrEqual(1);
    for (const service of ['tickets', 'orders', 'payments'])
      expect(names(service).has('outbox_pending_entries')).toBe(true);
    // The order was paid: its expiration job was removed, none is left delayed.
    const delayed = scraped
      .get('expiration')
      ?.samples.find((s) => s.name === 'expiration_queue_jobs' && s.labels['state'] === 'delayed');
    expect(delayed?.value).toBe(0);
  });

  it('serves every metric the Grafana dashboard queries', () => {
    const all = new Set(stack.services.flatMap((service) => [...names(service.name)]));
    expect(queriedMetrics().filter((metric) => !all.has(metric))).toEqual([]);
  });

  it('is not reachable through the gateway', async () => {
    for (const path of ['/metrics', '/api/metrics', '/api/tickets/metrics']) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: expect.any(Number) });
      expect(await res.text()).not.toContain('process_cpu');
    }
  });

  it('costs little to produce (size and time of one scrape)', async () => {
    for (const service of stack.services) {
      const started = performance.now();
      const text = await (await fetch(service.metricsUrl)).text();
      const ms = performance.now() - started;
      console.log(
        `${service.name}: /metrics ${(text.length / 1024).toFixed(1)} KiB, ${parseMetrics(text).length} samples, ${ms.toFixed(1)} ms`,
      );
      expect(ms).toBeLessThan(1_000);
    }
  });
});

describe('the status page (/_status)', () => {
  it('shows each service ready with its request rate, event lag and outbox backlog', async () => {
    // The first look sets the baseline of the rates; the second has them.
    await fetch(`${stack.baseUrl}/_status.json`);
    const res = await fetch(`${stack.baseUrl}/_status.json`);
    expect(res.status).toBe(200);
    const status = (await res.json()) as StackStatus;
    expect(status.services.map((s) => [s.name, s.ready])).toEqual(stack.services.map((s) => [s.name, true]));
    for (const s of status.services) {
      expect(s.requestRate).toEqual(expect.any(Number));
      expect(s.outboxPending).toBe(0);
    }
    const orders = status.services.find((s) => s.name === 'orders');
    expect(orders?.eventLagSeconds).toEqual(expect.any(Number));
    expect(orders?.eventsHandled).toBeGreaterThan(0);

    const page = await fetch(`${stack.baseUrl}/_status`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const service of stack.services) expect(html).toContain(`<b>${service.name}</b>`);
  });
});

describe('the API document', () => {
  it('is served at /api/openapi.json as api/openapi.ts builds it', async () => {
    const res = await fetch(`${stack.baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument)));
  });

  it('has a readable page at /api/docs that loads nothing from elsewhere', async () => {
    const res = await fetch(`${stack.baseUrl}/api/docs`);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const op of operations) expect(html).toContain(op.path);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  });
});
