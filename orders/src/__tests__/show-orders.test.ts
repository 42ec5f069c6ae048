import { OrderStatus } from '@ticketing/common';
import request from 'supertest';
import { buildTicket, buyer, newId, startOrders, type OrdersHarness, type TestUser } from './harness';

let h: OrdersHarness;
beforeAll(async () => {
  h = await startOrders('show-orders');
});
afterAll(() => h.close());

async function placeOrder(user: TestUser, attrs: { title?: string; price?: number } = {}) {
  const ticket = await buildTicket(attrs);
  const res = await request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: ticket.id });
  expect(res.status).toBe(201);
  return { ticket, order: res.body as { id: string } };
}

describe('GET /api/orders', () => {
  it('rejects a request without a session with 401', async () => {
    await request(h.app).get('/api/orders').expect(401);
  });

  it('lists only the caller’s orders, newest first, with their tickets populated', async () => {
    const user = buyer();
    const first = await placeOrder(user, { title: 'First', price: 10 });
    const second = await placeOrder(user, { title: 'Second', price: 12.5 });
    await placeOrder(buyer(), { title: 'Someone else’s' });

    const res = await request(h.app).get('/api/orders').set('Cookie', user.cookie).expect(200);

    expect(res.body).toHaveLength(2);
    expect(res.body[0]).toMatchObject({
      id: second.order.id,
      status: OrderStatus.Created,
      ticket: { id: second.ticket.id, title: 'Second', price: 12.5 },
    });
    expect(res.body[1]).toMatchObject({
      id: first.order.id,
      ticket: { id: first.ticket.id, title: 'First', price: 10 },
    });
  });

  it('answers an empty list to a user without orders', async () => {
    const res = await request(h.app).get('/api/orders').set('Cookie', buyer().cookie).expect(200);
    expect(res.body).toEqual([]);
  });
});

describe('GET /api/orders/:id', () => {
  it('returns the caller’s order with its ticket populated', async () => {
    const user = buyer();
    const { ticket, order } = await placeOrder(user, { title: 'Ballet', price: 30 });

    const res = await request(h.app).get(`/api/orders/${order.id}`).set('Cookie', user.cookie).expect(200);

    expect(res.body).toMatchObject({
      id: order.id,
      userId: user.id,
      status: OrderStatus.Created,
      price: 30,
      ticket: { id: ticket.id, title: 'Ballet', price: 30, version: 0 },
    });
  });

  it('answers 404 for another user’s order, like an absent one', async () => {
    const { order } = await placeOrder(buyer());

    const res = await request(h.app).get(`/api/orders/${order.id}`).set('Cookie', buyer().cookie).expect(404);

    expect(res.body.errors[0].code).toBe('ORDER_NOT_FOUND');
  });

  it('answers 404 for an order that does not exist', async () => {
    await request(h.app).get(`/api/orders/${newId()}`).set('Cookie', buyer().cookie).expect(404);
  });

  it('rejects a malformed id with 400', async () => {
    const res = await request(h.app).get('/api/orders/not-an-id').set('Cookie', buyer().cookie).expect(400);
    expect(res.body.errors[0].field).toBe('id');
  });

  it('rejects a request without a session with 401', async () => {
    const { order } = await placeOrder(buyer());
    await request(h.app).get(`/api/orders/${order.id}`).expect(401);
  });
});
