import {
  OrderStatus,
  OutboxRelay,
  Subjects,
  countUnpublished,
  isMongoConnected,
  makeClientId,
  createBus,
} from '@ticketing/common';
import { TEST_JWT_KEY, eventually, natsTestConfig, silentLogger, testChannelPrefix } from '@ticketing/common/testing';
import { Types } from 'mongoose';
import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { buildApp } from '../app';
import { Order } from '../models/order';
import { applyTicketUpdated } from '../models/ticket';
import { applyPayment } from '../services/order-lifecycle';
import {
  EXPIRATION_WINDOW_SECONDS,
  buildTicket,
  buyer,
  loadOrder,
  newId,
  startOrders,
  type OrdersHarness,
} from './harness';

let h: OrdersHarness;
beforeAll(async () => {
  h = await startOrders('new-order');
});
afterAll(() => h.close());

/** Events of this order not yet known to be published. */
const unpublishedOf = (id: string) =>
  countUnpublished(Order.db, Order.collection.collectionName, { _id: new Types.ObjectId(id) });

const order = (user = buyer(), ticketId?: string) =>
  request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId });

describe('POST /api/orders', () => {
  it('rejects a request without a session with 401', async () => {
    const ticket = await buildTicket();
    await request(h.app).post('/api/orders').send({ ticketId: ticket.id }).expect(401);
  });

  it('rejects a missing ticketId with 400', async () => {
    const res = await request(h.app).post('/api/orders').set('Cookie', buyer().cookie).send({}).expect(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'ticketId', code: 'VALIDATION_FAILED' });
  });

  it('rejects a malformed ticketId with 400', async () => {
    const res = await order(buyer(), 'not-an-id').expect(400);
    expect(res.body.errors[0].field).toBe('ticketId');
  });

  it('rejects a ticketId that is not a string (an operator object) with 400', async () => {
    await request(h.app)
      .post('/api/orders')
      .set('Cookie', buyer().cookie)
      .send({ ticketId: { $gt: '' } })
      .expect(400);
  });

  it('answers 404 for a ticket the replica does not know', async () => {
    const res = await order(buyer(), newId()).expect(404);
    expect(res.body.errors[0].code).toBe('TICKET_NOT_FOUND');
  });

  it('creates an order holding the ticket for the expiration window, with the ticket populated', async () => {
    const ticket = await buildTicket({ title: 'Opera', price: 19.99 });
    const user = buyer();
    const before = Date.now();

    const res = await order(user, ticket.id).expect(201);

    expect(res.body).toMatchObject({
      status: OrderStatus.Created,
      userId: user.id,
      price: 19.99,
      version: 0,
      ticket: { id: ticket.id, title: 'Opera', price: 19.99 },
    });
    const expiresAt = Date.parse(res.body.expiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(before + EXPIRATION_WINDOW_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + EXPIRATION_WINDOW_SECONDS * 1000);
    expect(res.body).not.toHaveProperty('outbox');
    expect(res.body).not.toHaveProperty('ticketLock');
    const stored = await loadOrder(res.body.id as string);
    expect(stored?.status).toBe(OrderStatus.Created);
  });

  it('publishes order:created with the ticket price and an ISO expiresAt', async () => {
    const ticket = await buildTicket({ price: 42.5 });
    const user = buyer();

    const res = await order(user, ticket.id).expect(201);

    const event = await h.probe.waitFor(Subjects.OrderCreated, (e) => e.id === res.body.id);
    expect(event).toEqual({
      id: res.body.id,
      version: 0,
      status: OrderStatus.Created,
      userId: user.id,
      expiresAt: res.body.expiresAt,
      ticket: { id: ticket.id, price: 42.5 },
    });
    expect(new Date(event.expiresAt).toISOString()).toBe(event.expiresAt);
    // Published, and the relay's checkpoint says so (the entry itself may stay until the next save).
    await eventually(async () => expect(await unpublishedOf(res.body.id as string)).toBe(0));
  });

  it('rejects the seller ordering their own ticket with 400 CANNOT_BUY_OWN_TICKET, and holds nothing', async () => {
    const seller = buyer();
    const ticket = await buildTicket({ userId: seller.id });

    const res = await order(seller, ticket.id).expect(400);

    expect(res.body.errors[0]).toMatchObject({ code: 'CANNOT_BUY_OWN_TICKET', field: 'ticketId' });
    expect(await Order.countDocuments({ ticket: ticket._id })).toBe(0);
    // The ticket stays free for everyone else.
    await order(buyer(), ticket.id).expect(201);
  });

  it('rejects a ticket that is already reserved with 400 TICKET_RESERVED', async () => {
    const ticket = await buildTicket();
    await order(buyer(), ticket.id).expect(201);

    const res = await order(buyer(), ticket.id).expect(400);

    expect(res.body.errors[0]).toMatchObject({ code: 'TICKET_RESERVED', field: 'ticketId' });
    expect(await Order.countDocuments({ ticket: ticket._id })).toBe(1);
  });

  it('lets another buyer order a ticket whose earlier order was cancelled', async () => {
    const ticket = await buildTicket();
    const first = buyer();
    const created = await order(first, ticket.id).expect(201);
    await request(h.app)
      .patch(`/api/orders/${created.body.id}`)
      .set('Cookie', first.cookie)
      .send({ status: 'cancelled' })
      .expect(200);

    const res = await order(buyer(), ticket.id).expect(201);

    expect(res.body.status).toBe(OrderStatus.Created);
  });

  it('rejects a ticket that was sold (its order is complete) with 400', async () => {
    const ticket = await buildTicket();
    const created = await order(buyer(), ticket.id).expect(201);
    await applyPayment(h.relay, created.body.id as string, { id: newId(), stripeId: 'ch_1' }, silentLogger);

    const res = await order(buyer(), ticket.id).expect(400);

    expect(res.body.errors[0].code).toBe('TICKET_RESERVED');
  });

  it('keeps the price the ticket had when the order was created', async () => {
    const ticket = await buildTicket({ price: 20 });
    const user = buyer();
    const created = await order(user, ticket.id).expect(201);
    await applyTicketUpdated({ id: ticket.id, version: 1, title: 'Concert', price: 35, userId: ticket.userId });

    const res = await request(h.app).get(`/api/orders/${created.body.id}`).set('Cookie', user.cookie).expect(200);

    expect(res.body.price).toBe(20);
    expect(res.body.ticket.price).toBe(35);
  });

  it('creates exactly one order when 50 buyers order one ticket at once (5 rounds)', async () => {
    const server: Server = createServer(h.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      for (let round = 0; round < 5; round += 1) {
        const ticket = await buildTicket();
        const responses = await Promise.all(
          Array.from({ length: 50 }, () =>
            request(server).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id }),
          ),
        );
        const statuses = responses.map((r) => r.status);
        expect(statuses.filter((s) => s === 201)).toHaveLength(1);
        expect(statuses.filter((s) => s === 400)).toHaveLength(49);
        expect(
          responses.filter((r) => r.status === 400).every((r) => r.body.errors[0].code === 'TICKET_RESERVED'),
        ).toBe(true);
        expect(await Order.countDocuments({ ticket: ticket._id })).toBe(1);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('POST /api/orders: unpaid orders per user (MAX_ACTIVE_ORDERS_PER_USER, 5 by default)', () => {
  const LIMIT = 5;
  const activeOrdersOf = (userId: string) =>
    Order.countDocuments({ userId, status: { $in: [OrderStatus.Created, OrderStatus.AwaitingPayment] } });

  async function placeOrders(user: ReturnType<typeof buyer>, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) ids.push((await order(user, (await buildTicket()).id).expect(201)).body.id);
    return ids;
  }

  it('refuses a sixth unpaid order with 400 TOO_MANY_ACTIVE_ORDERS and stores nothing for it', async () => {
    const user = buyer();
    await placeOrders(user, LIMIT);
    const ticket = await buildTicket();

    const res = await order(user, ticket.id).expect(400);

    expect(res.body.errors[0]).toMatchObject({ code: 'TOO_MANY_ACTIVE_ORDERS' });
    expect(await Order.countDocuments({ ticket: ticket._id })).toBe(0);
    expect(await activeOrdersOf(user.id)).toBe(LIMIT);
    // Other users are not affected.
    await order(buyer(), ticket.id).expect(201);
  });

  it('tells a buyer at the limit who orders a reserved ticket that the ticket is reserved', async () => {
    const user = buyer();
    await placeOrders(user, LIMIT);
    const ticket = await buildTicket();
    await order(buyer(), ticket.id).expect(201);

    // Both refusals apply; the one about this ticket is the one that helps (another ticket would
    // still be refused for the limit, with its own code).
    const res = await order(user, ticket.id).expect(400);

    expect(res.body.errors[0]).toMatchObject({ code: 'TICKET_RESERVED' });
    expect(await activeOrdersOf(user.id)).toBe(LIMIT);
  });

  it('tells a buyer at the limit about the limit once the order that held the ticket is cancelled', async () => {
    const user = buyer();
    await placeOrders(user, LIMIT);
    const ticket = await buildTicket();
    const other = buyer();
    const held = await order(other, ticket.id).expect(201);
    await request(h.app)
      .patch(`/api/orders/${held.body.id}`)
      .set('Cookie', other.cookie)
      .send({ status: 'cancelled' })
      .expect(200);

    // The service last saw that order holding the ticket: it must check, not remember.
    const res = await order(user, ticket.id).expect(400);

    expect(res.body.errors[0]).toMatchObject({ code: 'TOO_MANY_ACTIVE_ORDERS' });
  });

  it('frees a place when an order is cancelled or paid', async () => {
    const user = buyer();
    const [first, second] = await placeOrders(user, LIMIT);
    await order(user, (await buildTicket()).id).expect(400);

    await request(h.app)
      .patch(`/api/orders/${first}`)
      .set('Cookie', user.cookie)
      .send({ status: 'cancelled' })
      .expect(200);
    await order(user, (await buildTicket()).id).expect(201);
    await order(user, (await buildTicket()).id).expect(400);

    await applyPayment(h.relay, second as string, { id: newId(), stripeId: 'pi_test' }, silentLogger);
    await order(user, (await buildTicket()).id).expect(201);
    await order(user, (await buildTicket()).id).expect(400);
    expect(await activeOrdersOf(user.id)).toBe(LIMIT);
  });

  it('creates at most 5 when one user sends 20 orders of 20 tickets at once (3 rounds)', async () => {
    const server: Server = createServer(h.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      for (let round = 0; round < 3; round += 1) {
        const user = buyer();
        const tickets = await Promise.all(Array.from({ length: 20 }, () => buildTicket()));

        const responses = await Promise.all(
          tickets.map((t) => request(server).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: t.id })),
        );

        const created = responses.filter((r) => r.status === 201);
        const refused = responses.filter((r) => r.status === 400);
        expect(created).toHaveLength(LIMIT);
        expect(refused).toHaveLength(20 - LIMIT);
        expect(refused.every((r) => r.body.errors[0].code === 'TOO_MANY_ACTIVE_ORDERS')).toBe(true);
        expect(await activeOrdersOf(user.id)).toBe(LIMIT);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('uses MAX_ACTIVE_ORDERS_PER_USER from the configuration', async () => {
    const app = buildApp(
      { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS, MAX_ACTIVE_ORDERS_PER_USER: 2 },
      silentLogger,
      {},
      h.relay,
    );
    const user = buyer();
    const place = async () =>
      request(app)
        .post('/api/orders')
        .set('Cookie', user.cookie)
        .send({ ticketId: (await buildTicket()).id });

    expect((await place()).status).toBe(201);
    expect((await place()).status).toBe(201);
    const third = await place();
    expect(third.status).toBe(400);
    expect(third.body.errors[0].code).toBe('TOO_MANY_ACTIVE_ORDERS');
  });
});

describe('POST /api/orders with its own configuration and bus', () => {
  it('uses EXPIRATION_WINDOW_SECONDS from the configuration', async () => {
    const app = buildApp(
      { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS: 60 },
      silentLogger,
      {},
      h.relay,
    );
    const ticket = await buildTicket();
    const before = Date.now();

    const res = await request(app).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id });

    expect(res.status).toBe(201);
    const expiresAt = Date.parse(res.body.expiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('succeeds while the bus is down and publishes order:created once it is back (outbox)', async () => {
    const { transport, url, clusterId } = natsTestConfig();
    // Same channels as the harness's probe, but not connected yet.
    const offline = createBus({
      transport,
      url,
      clusterId,
      clientId: makeClientId('test-orders-offline'),
      logger: silentLogger,
      channelPrefix: testChannelPrefix(),
      retryDelayMs: { min: 50, max: 200 },
    });
    const relay = new OutboxRelay({ bus: offline, models: [Order], logger: silentLogger, retryIntervalMs: 100 });
    relay.start();
    const app = buildApp(
      { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS },
      silentLogger,
      { mongo: () => isMongoConnected(), bus: () => offline.isConnected },
      relay,
    );
    try {
      const ticket = await buildTicket();
      const res = await request(app).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id });
      expect(res.status).toBe(201);
      expect(await unpublishedOf(res.body.id as string)).toBe(1);

      await offline.connect();

      await h.probe.waitFor(Subjects.OrderCreated, (e) => e.id === res.body.id);
      expect(h.probe.of(Subjects.OrderCreated).filter((e) => e.id === res.body.id)).toHaveLength(1);
      await eventually(async () => expect(await unpublishedOf(res.body.id as string)).toBe(0));
    } finally {
      await relay.stop();
      await offline.close();
    }
  });
});
