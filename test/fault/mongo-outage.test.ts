import { OrderStatus, Publisher, Subjects, type Bus, type OrderCreatedEvent } from '@ticketing/common';
import {
  startMongo,
  startBusServer,
  busServerEnv,
  type MongoServer,
  type BusServer,
  externalServer,
} from '@ticketing/devinfra';
import {
  EventProbe,
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testBusTransport,
  withDatabase,
} from '@ticketing/common/testing';
import { connectPrivateBus, figure, newId, pause, tempDir } from './support/fixtures';
import { requestJson, type JsonResponse } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * The tickets service (its own process) while its database goes away for 5 s: every route that needs
 * the database answers 503 with the structured error body instead of hanging, the process stays up,
 * and it recovers by itself once the server is back (same port, same data), including an event that
 * arrived during the outage. A private FerretDB, so no other test file loses its database.
 */

const OUTAGE_MS = 5_000;

interface TicketJson {
  id: string;
  title: string;
  price: number;
  orderId?: string;
}

interface ErrorBody {
  errors: Array<{ message: string; code?: string }>;
}

class OrderCreatedPublisher extends Publisher<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
}

// The test stops and starts the server itself, which an external one (MONGO_URI) does not allow.
const describeWithPrivateMongo = externalServer('mongo') === undefined ? describe : describe.skip;

let data: ReturnType<typeof tempDir>;
let mongo: MongoServer;
let mongoPort: number;
let nats: BusServer;
let bus: Bus;
let tickets: ServiceProcess;
const seller = newId();
const cookie = sessionCookie({ id: seller, email: `${seller}@example.com` }, TEST_JWT_KEY);

beforeAll(async () => {
  data = tempDir('mongo');
  const [started, natsServer] = await Promise.all([
    startMongo({ dataDir: data.dir }),
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['tickets']),
  ]);
  mongo = started;
  mongoPort = Number(new URL(mongo.uri).port);
  nats = natsServer;
  bus = await connectPrivateBus(nats, 'mongo-outage');
  tickets = await startServiceProcess('tickets', {
    MONGO_URI: withDatabase(mongo.uri, 'tickets'),
    ...busServerEnv(nats),
    JWT_KEY: TEST_JWT_KEY,
  });
}, 120_000);

afterAll(async () => {
  await tickets?.stop();
  await bus?.close();
  await Promise.all([mongo?.stop(), nats?.stop()]);
  data?.remove();
}, 60_000);

function createTicket(title: string, timeoutMs = 10_000): Promise<JsonResponse<TicketJson | ErrorBody>> {
  return requestJson(`${tickets.url}/api/tickets`, { method: 'POST', body: { title, price: 25 }, cookie, timeoutMs });
}

function expectUnavailable(res: JsonResponse<unknown>, what: string): void {
  expect({ what, status: res.status, body: res.body }).toEqual({
    what,
    status: 503,
    body: { errors: [{ message: expect.any(String) as string, code: 'SERVICE_UNAVAILABLE' }] },
  });
}

describeWithPrivateMongo('the tickets service while MongoDB is down for 5 s', () => {
  it('answers 503 with the error body during the outage, stays up, and recovers without a restart', async () => {
    const probe = new EventProbe(bus, [Subjects.TicketUpdated]);
    const before = await createTicket('Before the outage');
    expect(before.status).toBe(201);
    const ticket = before.body as TicketJson;

    await mongo.stop();
    const stoppedAt = Date.now();
    // Every answer must come while the server is still down: a route that waited for the database
    // to come back (driver buffering) would fail here with a TIMEOUT instead of answering 503.
    const remaining = (): number => Math.max(1, stoppedAt + OUTAGE_MS - Date.now());

    // An event that arrives now cannot be stored: it must stay unacked and be applied after recovery.
    const order: OrderCreatedEvent['data'] = {
      id: newId(),
      version: 0,
      status: OrderStatus.Created,
      userId: newId(),
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      ticket: { id: ticket.id, price: 25 },
    };
    await new OrderCreatedPublisher(bus).publish(order);

    const [created, list, show, ready] = await Promise.all([
      createTicket('During the outage', remaining()),
      requestJson(`${tickets.url}/api/tickets?limit=20`, { timeoutMs: remaining() }),
      requestJson(`${tickets.url}/api/tickets/${ticket.id}`, { timeoutMs: remaining() }),
      requestJson<{ checks: Record<string, boolean> }>(`${tickets.url}/readyz`, { timeoutMs: remaining() }),
    ]);
    figure(
      `503s during the outage: POST ${created.ms.toFixed(0)} ms, list ${list.ms.toFixed(0)} ms, ` +
        `show ${show.ms.toFixed(0)} ms, readyz ${ready.ms.toFixed(0)} ms`,
    );
    expectUnavailable(created, 'POST /api/tickets');
    expectUnavailable(list, 'GET /api/tickets');
    expectUnavailable(show, 'GET /api/tickets/:id');
    // Readiness says why (the bus is fine); liveness stays green, so Kubernetes does not restart it.
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ mongo: false, bus: true });
    expect((await requestJson(`${tickets.url}/healthz`, { timeoutMs: remaining() })).status).toBe(200);
    // And a second round, once the driver has noticed the server is gone: still 503, still quick.
    const again = await createTicket('Still during the outage', remaining());
    figure(`503 on a second POST: ${again.ms.toFixed(0)} ms`);
    expectUnavailable(again, 'POST /api/tickets again');

    // The outage itself is a deliberate wait.
    await pause(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    mongo = await startMongo({ dataDir: data.dir, port: mongoPort });
    const restartedAt = Date.now();

    const after = await eventually(
      async () => {
        const res = await createTicket('After the outage');
        expect(res.status).toBe(201);
        return res.body as TicketJson;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    figure(`first 201 after the server was back: ${Date.now() - restartedAt} ms`);
    expect(after).toMatchObject({ title: 'After the outage', price: 25 });
    await eventually(async () => expect((await requestJson(`${tickets.url}/readyz`)).status).toBe(200), {
      timeoutMs: 10_000,
    });

    // The order:created that came during the outage was redelivered and applied.
    await eventually(
      async () => {
        const res = await requestJson<TicketJson>(`${tickets.url}/api/tickets/${ticket.id}`);
        expect(res.body.orderId).toBe(order.id);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(
      await probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticket.id && d.orderId === order.id, 10_000),
    ).toMatchObject({ version: 1 });
    // The data written before the outage survived it, and the same process served throughout.
    expect((await requestJson<TicketJson>(`${tickets.url}/api/tickets/${ticket.id}`)).body.title).toBe(
      'Before the outage',
    );
    if (!tickets.running()) throw new Error(describeService(tickets));
  }, 60_000);
});
