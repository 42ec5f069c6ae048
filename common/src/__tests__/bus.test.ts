import express from 'express';
import pino from 'pino';
import request from 'supertest';
import {
  ServiceUnavailableError,
  Subjects,
  createApp,
  handleShutdown,
  makeClientId,
  createBus,
  requestContext,
  type Bus,
  type CreateBusOptions,
  type EventEnvelope,
} from '..';
import { freePort, startBusServer, type BusServer } from '@ticketing/devinfra';
import {
  EventProbe,
  connectTestBus,
  eventually,
  natsTestConfig,
  silentLogger,
  testBusTransport,
  testChannelPrefix,
} from '../testing';

const TICKET_ID = '64b7f0c2a1b2c3d4e5f60718';
const ticketCreated = (title: string) => ({ id: TICKET_ID, version: 0, title, price: 10, userId: 'u1' });

const open: Bus[] = [];
const servers: BusServer[] = [];
/** This file runs on both transports (root jest.config.js): EVENT_BUS says which. */
const transport = testBusTransport();

/** A bus on its own server (not the shared one), with fast pings so a lost server is noticed quickly. */
function busFor(server: { url: string; clusterId: string }, overrides: Partial<CreateBusOptions> = {}): Bus {
  const bus = createBus({
    transport,
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId('test-bus'),
    logger: silentLogger,
    channelPrefix: testChannelPrefix(),
    pingIntervalMs: 500,
    maxPingOut: 3,
    retryDelayMs: { min: 50, max: 500 },
    ...overrides,
  });
  open.push(bus);
  return bus;
}

async function privateServer(opts: { port?: number } = {}): Promise<BusServer> {
  const server = await startBusServer(transport, { store: 'memory', ...opts });
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(open.map((bus) => bus.close()));
  await Promise.all(servers.map((server) => server.stop()));
});

describe('makeClientId', () => {
  it('builds a different valid id for each process from the service name', () => {
    const a = makeClientId('tickets');
    const b = makeClientId('tickets');

    expect(a).toMatch(/^tickets-[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
  });

  it('keeps a given id (the pod name) but replaces characters the server refuses', () => {
    expect(makeClientId('tickets', 'tickets-depl-7d9f.x y:z')).toBe('tickets-depl-7d9f_x_y_z');
    expect(makeClientId('tickets', '')).toMatch(/^tickets-/);
  });
});

describe('Bus.publish', () => {
  let bus: Bus;
  let probe: EventProbe;

  beforeAll(async () => {
    bus = await connectTestBus('bus-publish');
    open.push(bus);
    probe = new EventProbe(bus, [Subjects.TicketCreated]);
  });

  it('resolves with the id the server stored the event under', async () => {
    const guid = await bus.publish(Subjects.TicketCreated, ticketCreated('stored'));

    expect(guid).toEqual(expect.any(String));
    expect(guid.length).toBeGreaterThan(0);
  });

  it('wraps the payload in an envelope with an event id, a time and the current request id', async () => {
    const before = Date.now();

    await requestContext.run({ requestId: 'req-envelope-1' }, () =>
      bus.publish(Subjects.TicketCreated, ticketCreated('enveloped')),
    );

    await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'enveloped');
    const envelope = probe.events.find((e) => (e.data as { title?: string }).title === 'enveloped');
    expect(envelope).toMatchObject({ subject: Subjects.TicketCreated, requestId: 'req-envelope-1' });
    expect(envelope?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(envelope?.time ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  it('uses the event id, time and request id it is given (what the outbox re-publishes)', async () => {
    await bus.publish(Subjects.TicketCreated, ticketCreated('given-meta'), {
      id: 'event-1',
      time: '2030-01-01T00:00:00.000Z',
      requestId: 'req-given',
    });

    await probe.waitFor(Subjects.TicketCreated, (d) => d.title === 'given-meta');
    expect(probe.events.find((e) => e.id === 'event-1')).toMatchObject({
      time: '2030-01-01T00:00:00.000Z',
      requestId: 'req-given',
    });
  });

  it('rejects with 503 BUS_UNAVAILABLE while not connected', async () => {
    const idle = createBus({ ...natsTestConfig(), clientId: makeClientId('test-idle'), logger: silentLogger });

    const publishing = idle.publish(Subjects.TicketCreated, ticketCreated('nowhere'));

    await expect(publishing).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(publishing).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', statusCode: 503 });
  });

  it('rejects once the server stops answering, instead of hanging', async () => {
    const server = await privateServer();
    const doomed = busFor(server, { publishTimeoutMs: 500, pingIntervalMs: 5_000 });
    await doomed.connect();
    await server.stop();

    await expect(doomed.publish(Subjects.TicketCreated, ticketCreated('lost'))).rejects.toThrow();
  });
});

describe('Bus.connect', () => {
  it('keeps retrying with backoff until the server comes up, then resolves', async () => {
    const port = await freePort();
    const logs: Array<{ msg?: string; delayMs?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const bus = busFor({ url: `nats://127.0.0.1:${port}`, clusterId: 'ticketing' }, { logger });
    let connected = false;
    const connecting = bus.connect().then(() => {
      connected = true;
    });
    const retries = () => logs.filter((l) => l.msg?.startsWith('reconnecting to NATS') === true).map((l) => l.delayMs);
    // No server on that port yet: attempts fail and are retried, each after a longer pause.
    await eventually(() => expect(retries().length).toBeGreaterThanOrEqual(3));
    expect(connected).toBe(false);
    const [first, second, third] = retries();
    expect(second).toBe((first ?? 0) * 2);
    expect(third).toBe((second ?? 0) * 2);

    await privateServer({ port });
    await connecting;

    expect(bus.isConnected).toBe(true);
  });

  it('rejects a pending connect() when the bus is closed first', async () => {
    const port = await freePort();
    const bus = busFor({ url: `nats://127.0.0.1:${port}`, clusterId: 'ticketing' });
    const connecting = bus.connect();

    await bus.close();

    await expect(connecting).rejects.toThrow('bus closed before it connected');
    expect(bus.isConnected).toBe(false);
  });

  it('reconnects after a server restart and subscribes every registered subscription again', async () => {
    const server = await privateServer();
    const bus = busFor(server);
    await bus.connect();
    const received: string[] = [];
    bus.subscribe(
      { subject: Subjects.TicketCreated, queueGroup: 'bus-test', ackWaitMs: 1_000, maxInFlight: 8 },
      (msg) => {
        received.push((JSON.parse(msg.data) as EventEnvelope<Subjects.TicketCreated>).data.title);
        msg.ack();
      },
    );
    await bus.publish(Subjects.TicketCreated, ticketCreated('before'));
    await eventually(() => expect(received).toEqual(['before']));
    const events: string[] = [];
    bus.on('disconnected', () => events.push('disconnected'));
    const reconnected = new Promise((resolve) => bus.once('connected', resolve));

    await server.restart();
    await reconnected;
    await bus.publish(Subjects.TicketCreated, ticketCreated('after'));

    await eventually(() => expect(received).toEqual(['before', 'after']));
    expect(events).toEqual(['disconnected']);
    expect(bus.isConnected).toBe(true);
  });
});

describe('shutdown', () => {
  it('closes the bus on SIGTERM after HTTP, before Mongo, and exits 0', async () => {
    const bus = await connectTestBus('bus-shutdown');
    const steps: string[] = [];
    let exitCode: number | undefined;
    const signals = ['SIGTERM', 'SIGINT'] as const;
    const before = new Map(signals.map((s) => [s, process.listeners(s)]));
    const shutdown = handleShutdown({
      logger: silentLogger,
      steps: [
        { name: 'http', close: async () => void steps.push('http') },
        {
          name: 'bus',
          close: async () => {
            await bus.close();
            steps.push('bus');
          },
        },
        { name: 'mongo', close: async () => void steps.push('mongo') },
      ],
      exit: (code) => {
        exitCode = code;
      },
    });
    // The handlers it installed must not outlive this test: they would swallow the worker's SIGTERM.
    for (const signal of signals) {
      for (const l of process.listeners(signal))
        if (!before.get(signal)?.includes(l)) process.removeListener(signal, l);
    }

    // What its SIGTERM handler runs (a real signal would also reach jest's worker).
    await shutdown('SIGTERM');

    expect(steps).toEqual(['http', 'bus', 'mongo']);
    expect(bus.isConnected).toBe(false);
    expect(exitCode).toBe(0);
    await expect(bus.publish(Subjects.TicketCreated, ticketCreated('after close'))).rejects.toMatchObject({
      code: 'BUS_UNAVAILABLE',
    });
  });
});

describe('readiness', () => {
  it('reports the bus in /readyz: 200 while connected, 503 once closed', async () => {
    const bus = await connectTestBus('bus-ready');
    const app = createApp({
      logger: silentLogger,
      secureCookies: false,
      readiness: { bus: () => bus.isConnected },
      routers: [express.Router()],
    });

    const up = await request(app).get('/readyz');
    await bus.close();
    const down = await request(app).get('/readyz');

    expect(up.status).toBe(200);
    expect(up.body).toEqual({ status: 'ready', checks: { bus: true } });
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'not ready', checks: { bus: false } });
  });
});
