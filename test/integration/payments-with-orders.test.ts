/**
 * Payments end to end with the real orders service (its app, models and listeners, from
 * orders/src) and the real expiration service (its queue and listeners), over one bus and
 * stripe-mock: an order is paid and completes; an unpaid order expires and can no longer be paid;
 * a payment racing the expiry ends consistent.
 *
 * Both services have a model named Order, and each service has its own database in production. So
 * the orders service is loaded in its own jest module registry (jest.isolateModules), which gives it
 * its own mongoose instance, connected to its own database.
 */
import { OrderStatus, Subjects, type Bus } from '@ticketing/common';
import {
  EventProbe,
  TEST_JWT_KEY,
  connectTestBus,
  eventually,
  silentLogger,
  testDatabaseName,
  testRedisPrefix,
  testRedisUrl,
  withDatabase,
} from '@ticketing/common/testing';
import type { Express } from 'express';
import request from 'supertest';
import type * as MongooseModule from 'mongoose';
import type * as CommonModule from '@ticketing/common';
import type * as OrdersApp from '../../orders/src/app';
import type * as OrdersOrder from '../../orders/src/models/order';
import type * as OrdersTicket from '../../orders/src/models/ticket';
import type * as OrdersRefundRequest from '../../orders/src/models/refund-request';
import type * as OrdersTicketCreatedListener from '../../orders/src/events/listeners/ticket-created-listener';
import type * as OrdersPaymentCreatedListener from '../../orders/src/events/listeners/payment-created-listener';
import type * as OrdersExpirationCompleteListener from '../../orders/src/events/listeners/expiration-complete-listener';
import { OrderCancelledListener as ExpirationOrderCancelledListener } from '../../expiration/src/events/listeners/order-cancelled-listener';
import { OrderCompletedListener as ExpirationOrderCompletedListener } from '../../expiration/src/events/listeners/order-completed-listener';
import { OrderCreatedListener as ExpirationOrderCreatedListener } from '../../expiration/src/events/listeners/order-created-listener';
import { ExpirationCompletePublisher } from '../../expiration/src/events/publishers/expiration-complete-publisher';
import { ExpirationQueue } from '../../expiration/src/queues/expiration-queue';
import { Order } from '../../payments/src/models/order';
import { Payment, PaymentStatus } from '../../payments/src/models/payment';
import { buyer, newId, startPayments, type PaymentsHarness, type TestUser } from '../../payments/src/__tests__/harness';

/* eslint-disable @typescript-eslint/no-require-imports -- jest.isolateModules isolates require() only */
const requireOrdersService = () => ({
  mongoose: require('mongoose') as typeof MongooseModule,
  common: require('@ticketing/common') as typeof CommonModule,
  app: require('../../orders/src/app') as typeof OrdersApp,
  order: require('../../orders/src/models/order') as typeof OrdersOrder,
  ticket: require('../../orders/src/models/ticket') as typeof OrdersTicket,
  refund: require('../../orders/src/models/refund-request') as typeof OrdersRefundRequest,
  ticketCreated:
    require('../../orders/src/events/listeners/ticket-created-listener') as typeof OrdersTicketCreatedListener,
  paymentCreated:
    require('../../orders/src/events/listeners/payment-created-listener') as typeof OrdersPaymentCreatedListener,
  expirationComplete:
    require('../../orders/src/events/listeners/expiration-complete-listener') as typeof OrdersExpirationCompleteListener,
});
/* eslint-enable @typescript-eslint/no-require-imports */

function loadOrdersService(): ReturnType<typeof requireOrdersService> {
  let loaded: ReturnType<typeof requireOrdersService> | undefined;
  jest.isolateModules(() => {
    loaded = requireOrdersService();
  });
  if (loaded === undefined) throw new Error('the orders service did not load');
  return loaded;
}

const orders = loadOrdersService();
/** How long an order holds its ticket in these tests (the orders service's window, in seconds). */
const WINDOW_SECONDS = 2;

let payments: PaymentsHarness;
let ordersBus: Bus;
let expirationBus: Bus;
let ordersRelay: InstanceType<typeof orders.common.OutboxRelay>;
let ordersApp: Express;
let ordersProbe: EventProbe;
let expirations: ExpirationQueue;

beforeAll(async () => {
  payments = await startPayments('orders-integration');

  const base = process.env['TEST_MONGO_URI'] ?? '';
  await orders.mongoose.connect(withDatabase(base, `${testDatabaseName()}_o`), { serverSelectionTimeoutMS: 5_000 });
  await Promise.all([orders.order.Order.init(), orders.ticket.Ticket.init(), orders.refund.RefundRequest.init()]);
  ordersBus = await connectTestBus('orders');
  ordersRelay = new orders.common.OutboxRelay({ bus: ordersBus, models: [orders.order.Order], logger: silentLogger });
  ordersRelay.start();
  const listenerOpts = { ackWaitMs: 1_000 };
  new orders.ticketCreated.TicketCreatedListener(ordersBus, silentLogger, listenerOpts).listen();
  new orders.paymentCreated.PaymentCreatedListener(ordersBus, silentLogger, ordersRelay, listenerOpts).listen();
  new orders.expirationComplete.ExpirationCompleteListener(ordersBus, silentLogger, ordersRelay, listenerOpts).listen();
  ordersApp = orders.app.buildApp(
    { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS: WINDOW_SECONDS },
    silentLogger,
    {},
    ordersRelay,
  );
  ordersProbe = new EventProbe(ordersBus, [Subjects.OrderCreated, Subjects.OrderCancelled, Subjects.OrderCompleted]);

  expirationBus = await connectTestBus('expiration');
  const publisher = new ExpirationCompletePublisher(expirationBus);
  expirations = new ExpirationQueue({
    redisUrl: testRedisUrl(),
    prefix: testRedisPrefix(),
    logger: silentLogger,
    retry: { minDelayMs: 100, maxDelayMs: 400 },
    onExpire: async ({ orderId }) => {
      await publisher.publish({ orderId });
    },
  });
  await expirations.waitUntilReady();
  await expirations.start();
  new ExpirationOrderCreatedListener(expirationBus, silentLogger, expirations, listenerOpts).listen();
  new ExpirationOrderCancelledListener(expirationBus, silentLogger, expirations, listenerOpts).listen();
  new ExpirationOrderCompletedListener(expirationBus, silentLogger, expirations, listenerOpts).listen();
});

afterAll(async () => {
  await expirations.close();
  await expirationBus.close();
  await ordersRelay.stop();
  await ordersBus.close();
  await orders.mongoose.connection.dropDatabase();
  await orders.mongoose.disconnect();
  await payments.close();
});

beforeEach(() => {
  payments.proxy.reset();
});

/** A ticket for sale, as the tickets service announces it; resolves once the orders service has it. */
async function ticketOnSale(price: number): Promise<string> {
  const id = newId();
  await ordersBus.publish(Subjects.TicketCreated, { id, version: 0, title: 'Concert', price, userId: newId() });
  await eventually(async () => expect(await orders.ticket.Ticket.findById(id).lean()).not.toBeNull());
  return id;
}

/** POST /api/orders on the orders service; resolves once payments and expiration know the order. */
async function placeOrder(user: TestUser, price: number): Promise<{ id: string; expiresAt: string }> {
  const ticketId = await ticketOnSale(price);
  const res = await request(ordersApp).post('/api/orders').set('Cookie', user.cookie).send({ ticketId }).expect(201);
  const order = res.body as { id: string; expiresAt: string };
  await eventually(async () => expect(await Order.findById(order.id).lean()).not.toBeNull());
  await eventually(async () => expect(await expirations.queue.getJob(order.id)).toBeDefined());
  return order;
}

const pay = (user: TestUser, orderId: string) =>
  request(payments.app).post('/api/payments').set('Cookie', user.cookie).send({ orderId, token: 'tok_visa' });

const ordersStatus = async (user: TestUser, orderId: string): Promise<string> => {
  const res = await request(ordersApp).get(`/api/orders/${orderId}`).set('Cookie', user.cookie).expect(200);
  return (res.body as { status: string }).status;
};

describe('POST /api/payments with the orders service', () => {
  it('completes the order: the orders service marks it complete and payments stops taking payments', async () => {
    const user = buyer();
    const order = await placeOrder(user, 19.99);

    const res = await pay(user, order.id).expect(201);

    await eventually(async () => expect(await ordersStatus(user, order.id)).toBe(OrderStatus.Complete));
    await ordersProbe.waitFor(Subjects.OrderCompleted, (e) => e.id === order.id);
    await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Complete));
    expect(payments.proxy.charges().map((c) => c.form.get('amount'))).toEqual(['1999']);
    expect(await Payment.findById(res.body.id).lean()).toMatchObject({ orderId: order.id, status: 'succeeded' });
    // The paid order's expiry is called off.
    await eventually(async () => expect(await expirations.queue.getJob(order.id)).toBeUndefined());
    const again = await pay(user, order.id).expect(400);
    expect(again.body.errors[0].code).toBe('ORDER_COMPLETE');
  });

  it('refuses an order the expiration service has cancelled, and charges nothing', async () => {
    const user = buyer();
    const order = await placeOrder(user, 10);

    await ordersProbe.waitFor(Subjects.OrderCancelled, (e) => e.id === order.id, 10_000);
    await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Cancelled));
    const res = await pay(user, order.id).expect(400);

    expect(res.body.errors[0].code).toBe('ORDER_CANCELLED');
    expect(await ordersStatus(user, order.id)).toBe(OrderStatus.Cancelled);
    expect(payments.proxy.charges()).toHaveLength(0);
  });

  it('settles a payment racing the expiry: the order is cancelled, never completed, and the charge is refunded', async () => {
    const user = buyer();
    const order = await placeOrder(user, 15);
    // The buyer pays in the last moment; Stripe answers only after the expiry has gone through.
    const release = payments.proxy.holdCharges();
    const payment = pay(user, order.id).then((r) => r);
    await eventually(() => expect(payments.proxy.charges()).toHaveLength(1));
    await ordersProbe.waitFor(Subjects.OrderCancelled, (e) => e.id === order.id, 10_000);
    await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Cancelled));
    release();

    const res = await payment;

    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('ORDER_CANCELLED');
    await eventually(async () =>
      expect(await Payment.findOne({ orderId: order.id }).lean()).toMatchObject({ status: PaymentStatus.Refunded }),
    );
    // The orders service got payment:created for a cancelled order: it keeps the order cancelled and
    // records the payment for a refund (already done here by payments).
    await eventually(async () =>
      expect(await orders.refund.RefundRequest.findOne({ orderId: order.id }).lean()).not.toBeNull(),
    );
    expect(await ordersStatus(user, order.id)).toBe(OrderStatus.Cancelled);
    expect(ordersProbe.of(Subjects.OrderCompleted).map((e) => e.id)).not.toContain(order.id);
  });

  it('settles a payment just before the expiry: the order completes and is never cancelled', async () => {
    const user = buyer();
    const order = await placeOrder(user, 12.5);

    await pay(user, order.id).expect(201);

    await ordersProbe.waitFor(Subjects.OrderCompleted, (e) => e.id === order.id, 10_000);
    // Past the moment the order would have expired, with room for a late expiration:complete.
    await eventually(() => expect(Date.now()).toBeGreaterThan(Date.parse(order.expiresAt) + 1_000), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(await ordersStatus(user, order.id)).toBe(OrderStatus.Complete);
    expect(ordersProbe.of(Subjects.OrderCancelled).map((e) => e.id)).not.toContain(order.id);
    expect(await Payment.findOne({ orderId: order.id }).lean()).toMatchObject({ status: PaymentStatus.Succeeded });
  });
});
