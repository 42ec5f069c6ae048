import { OrderStatus, Subjects } from '@ticketing/common';
import { silentLogger } from '@ticketing/common/testing';
import request from 'supertest';
import { Order } from '../models/order';
import { applyPayment } from '../services/order-lifecycle';
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
  h = await startOrders('update-order');
});
afterAll(() => h.close());

async function placeOrder(user: TestUser = buyer()) {
  const ticket = await buildTicket();
  const res = await request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: ticket.id });
  expect(res.status).toBe(201);
  return { user, ticket, orderId: res.body.id as string };
}

const patch = (user: TestUser, id: string, body: unknown) =>
  request(h.app)
    .patch(`/api/orders/${id}`)
    .set('Cookie', user.cookie)
    .send(body as object);

const cancelledEventsOf = (id: string) => h.probe.of(Subjects.OrderCancelled).filter((e) => e.id === id);

describe('PATCH /api/orders/:id', () => {
  it('cancels the caller’s order and answers it with its ticket', async () => {
    const { user, ticket, orderId } = await placeOrder();

    const res = await patch(user, orderId, { status: 'cancelled' }).expect(200);

    expect(res.body).toMatchObject({
      id: orderId,
      status: OrderStatus.Cancelled,
      version: 1,
      ticket: { id: ticket.id },
    });
    expect((await loadOrder(orderId))?.status).toBe(OrderStatus.Cancelled);
  });

  it('publishes order:cancelled with the new version and releases the ticket', async () => {
    const { user, ticket, orderId } = await placeOrder();

    await patch(user, orderId, { status: 'cancelled' }).expect(200);

    const event = await h.probe.waitFor(Subjects.OrderCancelled, (e) => e.id === orderId);
    expect(event).toEqual({ id: orderId, version: 1, ticket: { id: ticket.id } });
    await request(h.app).post('/api/orders').set('Cookie', buyer().cookie).send({ ticketId: ticket.id }).expect(201);
  });

  it('answers 200 for an order that is already cancelled and changes nothing', async () => {
    const { user, orderId } = await placeOrder();
    await patch(user, orderId, { status: 'cancelled' }).expect(200);

    const res = await patch(user, orderId, { status: 'cancelled' }).expect(200);

    expect(res.body).toMatchObject({ status: OrderStatus.Cancelled, version: 1 });
    await settle(h, Subjects.OrderCancelled);
    expect(cancelledEventsOf(orderId)).toHaveLength(1);
  });

  it('cancels an order once when two cancels race', async () => {
    const { user, orderId } = await placeOrder();

    const responses = await Promise.all([
      patch(user, orderId, { status: 'cancelled' }),
      patch(user, orderId, { status: 'cancelled' }),
      patch(user, orderId, { status: 'cancelled' }),
    ]);

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await loadOrder(orderId))?.version).toBe(1);
    await settle(h, Subjects.OrderCancelled);
    expect(cancelledEventsOf(orderId)).toHaveLength(1);
  });

  it('cancels an order that is awaiting payment', async () => {
    const { user, orderId } = await placeOrder();
    await Order.updateOne({ _id: orderId }, { $set: { status: OrderStatus.AwaitingPayment } });

    const res = await patch(user, orderId, { status: 'cancelled' }).expect(200);

    expect(res.body.status).toBe(OrderStatus.Cancelled);
  });

  it('refuses to cancel a complete order with 400', async () => {
    const { user, orderId } = await placeOrder();
    await applyPayment(h.relay, orderId, { id: newId(), stripeId: 'ch_1' }, silentLogger);

    const res = await patch(user, orderId, { status: 'cancelled' }).expect(400);

    expect(res.body.errors[0].code).toBe('ORDER_COMPLETE');
    expect((await loadOrder(orderId))?.status).toBe(OrderStatus.Complete);
  });

  it('answers 404 for another user’s order and leaves it alone', async () => {
    const { orderId } = await placeOrder();

    await patch(buyer(), orderId, { status: 'cancelled' }).expect(404);

    expect((await loadOrder(orderId))?.status).toBe(OrderStatus.Created);
  });

  it('answers 404 for an order that does not exist', async () => {
    await patch(buyer(), newId(), { status: 'cancelled' }).expect(404);
  });

  it('rejects a malformed id with 400', async () => {
    const res = await patch(buyer(), 'nope', { status: 'cancelled' }).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('id');
  });

  it.each([
    ['another status', { status: 'complete' }],
    ['an extra field', { status: 'cancelled', userId: 'someone' }],
    ['an empty body', {}],
    ['a status that is not a string', { status: ['cancelled'] }],
  ])('rejects %s with 400 and leaves the order alone', async (_case, body) => {
    const { user, orderId } = await placeOrder();

    await patch(user, orderId, body).expect(400);

    expect((await loadOrder(orderId))?.status).toBe(OrderStatus.Created);
  });

  it('rejects a request without a session with 401', async () => {
    const { orderId } = await placeOrder();
    await request(h.app).patch(`/api/orders/${orderId}`).send({ status: 'cancelled' }).expect(401);
  });
});
