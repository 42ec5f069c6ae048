import { randomBytes } from 'node:crypto';
import express from 'express';
import nats from 'node-nats-streaming';
import request from 'supertest';
import {
  Listener,
  NotFoundError,
  RetryLaterError,
  Subjects,
  createApp,
  listenMetrics,
  parseMetrics,
  sumMetric,
  type Bus,
  type MetricsServer,
  type OrderCancelledEvent,
} from '..';
import { connectTestBus, eventually, natsTestConfig, silentLogger, testChannelPrefix } from '../testing';

/**
 * /metrics as Prometheus sees it: the metrics server of the process on its own port, read over HTTP
 * after the API and a listener did real work.
 */

let server: MetricsServer;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await listenMetrics(0, 'metrics-test', silentLogger);
});

afterAll(async () => {
  await server.step.close();
  await Promise.all(buses.map((bus) => bus.close()));
});

async function scrape(): Promise<ReturnType<typeof parseMetrics>> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe('the metrics server', () => {
  it('answers GET /metrics with the Node process metrics, every series labelled with the service', async () => {
    const samples = await scrape();
    const cpu = samples.find((s) => s.name === 'process_cpu_user_seconds_total');
    expect(cpu?.labels).toMatchObject({ service: 'metrics-test' });
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
    expect(samples.some((s) => s.name === 'outbox_pending_entries')).toBe(true);
  });

  it('serves nothing else on its port (404)', async () => {
    for (const path of ['/', '/healthz', '/api/tickets', '/metrics/x']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      expect(res.status).toBe(404);
    }
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(404);
  });
});

describe('http_request_duration_seconds', () => {
  it('counts requests by method, route template and status, and unmatched URLs under one label', async () => {
    const base = `/api/m${randomBytes(3).toString('hex')}`;
    const router = express.Router();
    router.get(`${base}/:id`, (req, res) => {
      if (req.params['id'] === 'missing') throw new NotFoundError();
      res.json({ id: req.params['id'] });
    });
    const app = createApp({ logger: silentLogger, secureCookies: false, readiness: {}, routers: [router] });

    await request(app).get(`${base}/1`).expect(200);
    await request(app).get(`${base}/2`).expect(200);
    await request(app).get(`${base}/missing`).expect(404);
    await request(app)
      .get(`${base}-nowhere/${randomBytes(4).toString('hex')}`)
      .expect(404);

    const samples = await scrape();
    const count = (labels: Record<string, string>): number =>
      sumMetric(samples, 'http_request_duration_seconds_count', { method: 'GET', ...labels });
    expect(count({ route: `${base}/:id`, status: '200' })).toBe(2);
    expect(count({ route: `${base}/:id`, status: '404' })).toBe(1);
    expect(count({ route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    // No series carries a concrete URL.
    expect(samples.some((s) => s.labels['route']?.includes('missing') === true)).toBe(false);
  });
});

class ScriptedListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  deliveries = 0;

  constructor(
    bus: Bus,
    readonly queueGroupName: string,
    private readonly failFirst: number,
  ) {
    super(bus, silentLogger, { ackWaitMs: 1_000 });
  }

  async onMessage(): Promise<void> {
    this.deliveries += 1;
    if (this.deliveries === 1 && this.failFirst > 0) throw new Error('transient failure');
    if (this.deliveries === 2 && this.failFirst > 1) throw new RetryLaterError('from the future');
  }
}

async function publishRaw(channel: string, payload: string): Promise<void> {
  const { url, clusterId } = natsTestConfig();
  const stan = nats.connect(clusterId, `raw-${randomBytes(4).toString('hex')}`, { url });
  await new Promise<void>((resolve, reject) => {
    stan.on('connect', () => {
      stan.publish(channel, payload, (err) => {
        stan.close();
        if (err) reject(new Error(String(err)));
        else resolve();
      });
    });
    stan.on('error', reject);
  });
}

describe('event_handling_duration_seconds and event_lag_seconds', () => {
  it('count each delivery by subject, queue group and outcome (retried, acked, poison)', async () => {
    const bus = await connectTestBus('metrics', {
      channelPrefix: `${testChannelPrefix()}${randomBytes(3).toString('hex')}.`,
    });
    buses.push(bus);
    const group = `metrics-${randomBytes(3).toString('hex')}`;
    const listener = new ScriptedListener(bus, group, 2).listen();

    await bus.publish(Subjects.OrderCancelled, {
      id: '64b7f0c2a1b2c3d4e5f60718',
      version: 1,
      ticket: { id: '64b7f0c2a1b2c3d4e5f60719' },
    });
    await publishRaw(bus.channel(Subjects.OrderCancelled), '{not json');

    const labels = { subject: Subjects.OrderCancelled, queue_group: group };
    await eventually(
      async () => {
        const samples = await scrape();
        const count = (outcome: string): number =>
          sumMetric(samples, 'event_handling_duration_seconds_count', { ...labels, outcome });
        // A failure, then an event from the future, then the ack: three deliveries of one event.
        expect({ retried: count('retried'), acked: count('acked'), poison: count('poison') }).toEqual({
          retried: 2,
          acked: 1,
          poison: 1,
        });
        expect(sumMetric(samples, 'event_lag_seconds_count', labels)).toBe(1);
        // The lag of that event spans its two redeliveries (1 s ack wait each).
        expect(sumMetric(samples, 'event_lag_seconds_sum', labels)).toBeGreaterThanOrEqual(1);
      },
      { timeoutMs: 15_000 },
    );
    expect(listener.deliveries).toBe(3);
  });
});
