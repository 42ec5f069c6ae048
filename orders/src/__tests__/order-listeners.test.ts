import { OrderStatus, Subjects } from '@ticketing/common';
import { eventually, silentLogger } from '@ticketing/common/testing';
import request from 'supertest';
import { ExpirationCompleteListener } from '../events/listeners/expiration-complete-listener';
import { PaymentCreatedListener } from '../events/listeners/payment-created-listener';
import { RefundRequest } from '../models/refund-request';
import {
  buildTicket,
  buyer,
  loadOrder,
  newId,
  settle,
  startOrders,
  type OrdersHarness,
  type TestUser,
} from './harness';

let h: OrdersHarness;
beforeAll(async () => {
  h = await startOrders('order-listeners');
  new ExpirationCompleteListener(h.bus, silentLogger, h.relay, { ackWaitMs: 1000 }).listen();
  new PaymentCreatedListener(h.bus, silentLogger, h.relay, { ackWaitMs: 1000 }).listen();
});
afterAll(() => h.close());

async function placeOrder(user: TestUser = buyer()) {
  const ticket = await buildTicket();
  const res = await request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: ticket.id });
  expect(res.status).toBe(201);
  return { user, ticket, orderId: res.body.id as string };
}

const expire = (orderId: string) => h.bus.publish(Subjects.ExpirationComplete, { orderId });
const pay = (orderId: string, paymentId = newId()) =>
  h.bus.publish(Subjects.PaymentCreated, { id: paymentId, orderId, stripeId: `ch_${paymentId}` });
const statusOf = async (orderId: string) => (await loadOrder(orderId))?.status;
const eventsOf = (subject: Subjects.OrderCancelled | Subjects.OrderCompleted, orderId: string) =>
  h.probe.of(subject).filter((e) => e.id === orderId);

describe('expiration:complete listener', () => {
  it('cancels an active order, publishes order:cancelled and releases the ticket', async () => {
    const { ticket, orderId } = await placeOrder();

    await expire(orderId);

    const event = await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === orderId);
    expect(event).toEqual({ id: orderId, version: 1, ticket: { id: ticket.id } });
    expect(await statusOf(orderId)).toBe(OrderStatus.Cancelled);
    await request(h.app).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id }).expect(201);
  });

  it('changes nothing and publishes nothing when the same expiration is delivered twice', async () => {
    const { orderId } = await placeOrder();
    await expire(orderId);
    await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === orderId);

    await expire(orderId);
    const marker = await placeOrder();
    await expire(marker.orderId); // handled after the duplicate: the channel keeps its order
    await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === marker.orderId);

    expect((await loadOrder(orderId))?.version).toBe(1);
    await settle(h, Subjects.OrderCancelled);
    expect(eventsOf(Subjects.OrderCancelled, orderId)).toHaveLength(1);
  });

  it('leaves an order the buyer already cancelled as it is', async () => {
    const { user, orderId } = await placeOrder();
    await request(h.app).patch(`/api/orders/${orderId}`).set('Cookie', user.cookie).send({ status: 'cancelled' });

    await expire(orderId);
    const marker = await placeOrder();
    await expire(marker.orderId);
    await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === marker.orderId);

    expect(await loadOrder(orderId)).toMatchObject({ status: OrderStatus.Cancelled, version: 1 });
    await settle(h, Subjects.OrderCancelled);
    expect(eventsOf(Subjects.OrderCancelled, orderId)).toHaveLength(1);
  });

  it('leaves a complete order complete, with its ticket still sold', async () => {
    const { ticket, orderId } = await placeOrder();
    await pay(orderId);
    await eventually(async () => expect(await statusOf(orderId)).toBe(OrderStatus.Complete));

    await expire(orderId);
    const marker = await placeOrder();
    await expire(marker.orderId);
    await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === marker.orderId);

    expect(await loadOrder(orderId)).toMatchObject({ status: OrderStatus.Complete, version: 1 });
    await settle(h, Subjects.OrderCancelled);
    expect(eventsOf(Subjects.OrderCancelled, orderId)).toHaveLength(0);
    await request(h.app).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id }).expect(400);
  });

  it('acks an expiration for an order it does not know', async () => {
    const listener = new ExpirationCompleteListener(h.bus, silentLogger, h.relay);
    await expect(listener.onMessage({ orderId: newId() })).resolves.toBeUndefined();
  });
});

describe('payment:created listener', () => {
  it('completes an active order and publishes order:completed', async () => {
    const { ticket, orderId } = await placeOrder();
    const paymentId = newId();

    await pay(orderId, paymentId);

    const event = await h.probe.waitFor(Subjects.OrderCompleted, (e) => e.id === orderId);
    expect(event).toEqual({ id: orderId, version: 1, ticket: { id: ticket.id } });
    expect(await loadOrder(orderId)).toMatchObject({
      status: OrderStatus.Complete,
      payment: { id: paymentId, stripeId: `ch_${paymentId}` },
    });
  });

  it('completes an order once when the same payment is delivered twice', async () => {
    const { orderId } = await placeOrder();
    const paymentId = newId();

    await pay(orderId, paymentId);
    await pay(orderId, paymentId);
    const marker = await placeOrder();
    await pay(marker.orderId);
    await h.probe.waitFor(Subjects.OrderCompleted, (e) => e.id === marker.orderId);

    expect(await loadOrder(orderId)).toMatchObject({ status: OrderStatus.Complete, version: 1 });
    await settle(h, Subjects.OrderCompleted);
    expect(eventsOf(Subjects.OrderCompleted, orderId)).toHaveLength(1);
    expect(await RefundRequest.countDocuments({ orderId })).toBe(0);
  });

  it('never resurrects a cancelled order: it records the payment for a refund', async () => {
    const { orderId } = await placeOrder();
    await expire(orderId);
    await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === orderId);
    const paymentId = newId();

    await pay(orderId, paymentId);

    await eventually(async () =>
      expect(await RefundRequest.findById(paymentId).lean()).toMatchObject({
        orderId,
        stripeId: `ch_${paymentId}`,
        reason: 'order-cancelled',
      }),
    );
    expect(await loadOrder(orderId)).toMatchObject({ status: OrderStatus.Cancelled, version: 1 });
    await settle(h, Subjects.OrderCompleted);
    expect(eventsOf(Subjects.OrderCompleted, orderId)).toHaveLength(0);
  });

  it('records a second, different payment for a complete order for a refund', async () => {
    const { orderId } = await placeOrder();
    const first = newId();
    await pay(orderId, first);
    await eventually(async () => expect(await statusOf(orderId)).toBe(OrderStatus.Complete));
    const second = newId();

    await pay(orderId, second);

    await eventually(async () =>
      expect(await RefundRequest.findById(second).lean()).toMatchObject({ orderId, reason: 'order-already-paid' }),
    );
    expect((await loadOrder(orderId))?.payment?.id).toBe(first);
  });

  it('records a payment for an order it does not know for a refund and acks it', async () => {
    const listener = new PaymentCreatedListener(h.bus, silentLogger, h.relay);
    const paymentId = newId();
    const orderId = newId();

    await expect(listener.onMessage({ id: paymentId, orderId, stripeId: 'ch_x' })).resolves.toBeUndefined();

    expect(await RefundRequest.findById(paymentId).lean()).toMatchObject({ orderId, reason: 'order-unknown' });
  });

  it('lets exactly one of a racing expiration and payment win', async () => {
    const { orderId } = await placeOrder();
    const paymentId = newId();
    const expiration = new ExpirationCompleteListener(h.bus, silentLogger, h.relay);
    const payment = new PaymentCreatedListener(h.bus, silentLogger, h.relay);

    await Promise.all([
      expiration.onMessage({ orderId }),
      payment.onMessage({ id: paymentId, orderId, stripeId: 'ch_race' }),
    ]);

    const order = (await loadOrder(orderId))!;
    expect(order.version).toBe(1);
    const refunds = await RefundRequest.countDocuments({ _id: paymentId });
    if (order.status === OrderStatus.Complete) expect(refunds).toBe(0);
    else expect([order.status, refunds]).toEqual([OrderStatus.Cancelled, 1]);
  });
});
