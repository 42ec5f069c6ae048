/**
 * End to end with the REAL tickets service (its app and its listeners, from tickets/src) and the
 * orders service on one bus: the trap of ARCHITECTURE §4. Reserving and releasing a ticket are
 * changes in tickets (version bumps, ticket:updated), so the orders replica must follow every one of
 * them; if it fell one version behind, it would refuse every later update and the ticket could never
 * be ordered again at its new price.
 *
 * Each service has its own mongoose and its own database, as in production: tickets' modules are
 * loaded in an isolated module registry (both services name their model `Ticket`, and each must
 * stay in its own database).
 */
import {
  OutboxRelay,
  OrderStatus,
  Subjects,
  type Bus,
  type ListenerOptions,
  type Logger,
  type ReadinessChecks,
} from '@ticketing/common';
import {
  TEST_JWT_KEY,
  connectTestBus,
  eventually,
  sessionCookie,
  silentLogger,
  testDatabaseName,
  withDatabase,
} from '@ticketing/common/testing';
import type { Express } from 'express';
import type { Mongoose, Model } from 'mongoose';
import request from 'supertest';
import { ExpirationCompleteListener } from '../../orders/src/events/listeners/expiration-complete-listener';
import { PaymentCreatedListener } from '../../orders/src/events/listeners/payment-created-listener';
import { TicketCreatedListener } from '../../orders/src/events/listeners/ticket-created-listener';
import { TicketUpdatedListener } from '../../orders/src/events/listeners/ticket-updated-listener';
import { Ticket as TicketReplica } from '../../orders/src/models/ticket';
import { buyer, newId, startOrders, type OrdersHarness, type TestUser } from '../../orders/src/__tests__/harness';

/**
 * What this test uses of the tickets service, typed here: its modules are loaded by a path computed
 * at run time (in a module registry of their own), which TypeScript does not follow.
 */
type TicketsListener = new (
  bus: Bus,
  logger: Logger,
  relay: OutboxRelay,
  opts?: ListenerOptions,
) => { listen(): unknown };

interface TicketsModules {
  mongoose: Mongoose;
  buildApp(deps: {
    config: { JWT_KEY: string; NODE_ENV: 'development' | 'production' | 'test' };
    logger: Logger;
    readiness: ReadinessChecks;
    relay: OutboxRelay;
    listing: unknown;
  }): Express;
  startTicketListing(bus: Bus, logger: Logger, opts?: ListenerOptions): Promise<{ listing: unknown; stop(): void }>;
  OrderCreatedListener: TicketsListener;
  OrderCancelledListener: TicketsListener;
  OrderCompletedListener: TicketsListener;
  Ticket: Model<unknown>;
}

const TICKETS_SRC = '../../tickets/src';

/** A module of the tickets service, loaded by a path computed at run time. */
async function ticketsModule(path: string): Promise<Record<string, unknown>> {
  return (await import(`${TICKETS_SRC}/${path}`)) as Record<string, unknown>;
}

async function loadTickets(): Promise<TicketsModules> {
  let modules: TicketsModules | undefined;
  // A registry of its own: tickets gets its own mongoose (so its own connection and database) and
  // its own copy of everything it imports, as a separate process would.
  await jest.isolateModulesAsync(async () => {
    const app = await ticketsModule('app');
    const created = await ticketsModule('events/listeners/order-created-listener');
    const cancelled = await ticketsModule('events/listeners/order-cancelled-listener');
    const completed = await ticketsModule('events/listeners/order-completed-listener');
    const model = await ticketsModule('models/ticket');
    const listing = await ticketsModule('services/listing');
    modules = {
      startTicketListing: listing['startTicketListing'] as TicketsModules['startTicketListing'],
      mongoose: (await import('mongoose')).default,
      buildApp: app['buildApp'] as TicketsModules['buildApp'],
      OrderCreatedListener: created['OrderCreatedListener'] as TicketsListener,
      OrderCancelledListener: cancelled['OrderCancelledListener'] as TicketsListener,
      OrderCompletedListener: completed['OrderCompletedListener'] as TicketsListener,
      Ticket: model['Ticket'] as Model<unknown>,
    };
  });
  return modules!;
}

interface TicketsService {
  app: Express;
  close(): Promise<void>;
}

async function startTicketsService(): Promise<TicketsService> {
  const {
    mongoose,
    buildApp,
    startTicketListing,
    OrderCreatedListener,
    OrderCancelledListener,
    OrderCompletedListener,
    Ticket,
  } = await loadTickets();
  const database = `${testDatabaseName().slice(0, 34)}_tk`;
  await mongoose.connect(withDatabase(process.env['TEST_MONGO_URI']!, database), { serverSelectionTimeoutMS: 5_000 });
  await Ticket.init();
  // Its own client on the bus, like a separate pod.
  const bus = await connectTestBus('tickets');
  const relay = new OutboxRelay({ bus, models: [Ticket], logger: silentLogger, retryIntervalMs: 100 });
  relay.start();
  new OrderCreatedListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
  new OrderCancelledListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
  new OrderCompletedListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
  const { listing, stop } = await startTicketListing(bus, silentLogger, { ackWaitMs: 1_000 });
  return {
    app: buildApp({
      config: { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test' },
      logger: silentLogger,
      readiness: {},
      relay,
      listing,
    }),
    async close() {
      stop();
      await relay.stop();
      await bus.close();
      await mongoose.connection.dropDatabase();
      await mongoose.disconnect();
    },
  };
}

let orders: OrdersHarness;
let tickets: TicketsService;

beforeAll(async () => {
  orders = await startOrders('tickets-integration');
  new TicketCreatedListener(orders.bus, silentLogger, { ackWaitMs: 1_000 }).listen();
  new TicketUpdatedListener(orders.bus, silentLogger, { ackWaitMs: 1_000 }).listen();
  new ExpirationCompleteListener(orders.bus, silentLogger, orders.relay, { ackWaitMs: 1_000 }).listen();
  new PaymentCreatedListener(orders.bus, silentLogger, orders.relay, { ackWaitMs: 1_000 }).listen();
  tickets = await startTicketsService();
});
afterAll(async () => {
  await tickets.close();
  await orders.close();
});

function seller(): TestUser {
  const id = newId();
  const email = `seller-${id}@example.com`;
  return { id, email, cookie: sessionCookie({ id, email }) };
}

async function sellTicket(owner: TestUser, title: string, price: number): Promise<string> {
  const res = await request(tickets.app).post('/api/tickets').set('Cookie', owner.cookie).send({ title, price });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** The tickets service's own view of the ticket. */
async function ownerCopy(
  id: string,
): Promise<{ version: number; title: string; price: number; orderId?: string; sold?: boolean }> {
  const res = await request(tickets.app).get(`/api/tickets/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** Waits until the orders replica is exactly the owner's copy (version, title, price, reservation). */
async function replicaCatchesUp(id: string, expected: { version: number; orderId?: string }): Promise<void> {
  await eventually(
    async () => {
      const owner = await ownerCopy(id);
      expect(owner).toMatchObject({ version: expected.version });
      expect(owner.orderId).toBe(expected.orderId);
      const replica = await TicketReplica.findById(id).lean();
      expect(replica).toMatchObject({
        version: owner.version,
        title: owner.title,
        priceCents: Math.round(owner.price * 100),
      });
      expect(replica?.orderId).toBe(owner.orderId);
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
}

const placeOrder = (user: TestUser, ticketId: string) =>
  request(orders.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId });

describe('orders and the real tickets service', () => {
  it('order, cancel, seller edit, order again: every step succeeds and the replica stays current', async () => {
    const owner = seller();
    const ticketId = await sellTicket(owner, 'Concert', 20);
    await replicaCatchesUp(ticketId, { version: 0 });

    // A reserves: tickets sets orderId (version 1) and tells the replica.
    const a = buyer();
    const first = await placeOrder(a, ticketId).expect(201);
    await replicaCatchesUp(ticketId, { version: 1, orderId: first.body.id });

    // A cancels: tickets releases the ticket (version 2).
    await request(orders.app)
      .patch(`/api/orders/${first.body.id}`)
      .set('Cookie', a.cookie)
      .send({ status: 'cancelled' })
      .expect(200);
    await replicaCatchesUp(ticketId, { version: 2 });

    // The seller edits the free ticket (version 3).
    await request(tickets.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', owner.cookie)
      .send({ title: 'Concert (moved)', price: 25 })
      .expect(200);
    await replicaCatchesUp(ticketId, { version: 3 });

    // B orders the edited ticket at its new price (version 4 once tickets reserves it).
    const b = buyer();
    const second = await placeOrder(b, ticketId).expect(201);
    expect(second.body).toMatchObject({ price: 25, ticket: { title: 'Concert (moved)', price: 25 } });
    await orders.probe.waitFor(Subjects.OrderCreated, (e) => e.id === second.body.id && e.ticket.price === 25);
    await replicaCatchesUp(ticketId, { version: 4, orderId: second.body.id });
  });

  it('refuses the seller’s edit while the ticket is reserved and keeps the replica in step', async () => {
    const owner = seller();
    const ticketId = await sellTicket(owner, 'Theatre', 40);
    await replicaCatchesUp(ticketId, { version: 0 });
    const order = await placeOrder(buyer(), ticketId).expect(201);
    await replicaCatchesUp(ticketId, { version: 1, orderId: order.body.id });

    await request(tickets.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', owner.cookie)
      .send({ title: 'Theatre', price: 99 })
      .expect(400);

    await replicaCatchesUp(ticketId, { version: 1, orderId: order.body.id });
    expect((await ownerCopy(ticketId)).price).toBe(40);
  });

  it('an expired order frees the ticket everywhere, and a paid one keeps it sold', async () => {
    const owner = seller();
    const ticketId = await sellTicket(owner, 'Match', 15);
    await replicaCatchesUp(ticketId, { version: 0 });

    const late = await placeOrder(buyer(), ticketId).expect(201);
    await replicaCatchesUp(ticketId, { version: 1, orderId: late.body.id });
    await orders.bus.publish(Subjects.ExpirationComplete, { orderId: late.body.id });
    await replicaCatchesUp(ticketId, { version: 2 });

    const payer = buyer();
    const paid = await placeOrder(payer, ticketId).expect(201);
    await replicaCatchesUp(ticketId, { version: 3, orderId: paid.body.id });
    await orders.bus.publish(Subjects.PaymentCreated, { id: newId(), orderId: paid.body.id, stripeId: 'ch_paid' });
    await eventually(async () => {
      const res = await request(orders.app).get(`/api/orders/${paid.body.id}`).set('Cookie', payer.cookie);
      expect(res.body.status).toBe(OrderStatus.Complete);
    });

    // Tickets hears order:completed: sold for good (version 4), and the replica follows.
    await replicaCatchesUp(ticketId, { version: 4, orderId: paid.body.id });
    expect((await ownerCopy(ticketId)).sold).toBe(true);
    await placeOrder(buyer(), ticketId).expect(400);
    const edit = await request(tickets.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', owner.cookie)
      .send({ title: 'Match', price: 30 })
      .expect(400);
    expect(edit.body.errors[0].code).toBe('TICKET_SOLD');
    const list = await request(tickets.app).get('/api/tickets').query({ limit: '100' }).expect(200);
    expect(list.body.tickets.map((t: { id: string }) => t.id)).not.toContain(ticketId);
    await replicaCatchesUp(ticketId, { version: 4, orderId: paid.body.id });
  });
});
