import { OrderStatus, encodeCursor } from '@ticketing/common';
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

interface OrdersPage {
  orders: Array<{ id: string; status: string; ticket: { id: string; title: string; price: number } }>;
  nextCursor: string | null;
}

async function listOrders(user: TestUser, query: Record<string, string> = {}): Promise<OrdersPage> {
  const res = await request(h.app).get('/api/orders').query(query).set('Cookie', user.cookie).expect(200);
  return res.body as OrdersPage;
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

    const page = await listOrders(user);

    expect(page.nextCursor).toBeNull();
    expect(page.orders).toHaveLength(2);
    expect(page.orders[0]).toMatchObject({
      id: second.order.id,
      status: OrderStatus.Created,
      ticket: { id: second.ticket.id, title: 'Second', price: 12.5 },
    });
    expect(page.orders[1]).toMatchObject({
      id: first.order.id,
      ticket: { id: first.ticket.id, title: 'First', price: 10 },
    });
  });

  it('answers an empty page to a user without orders', async () => {
    expect(await listOrders(buyer())).toEqual({ orders: [], nextCursor: null });
  });

  it('pages through every order of the caller exactly once, newest first, with limit and cursor', async () => {
    const user = buyer();
    const ids: string[] = [];
    // Cancelled ones too (a cancelled order frees its place, so there can be more than the cap).
    for (let i = 0; i < 7; i += 1) {
      const { order } = await placeOrder(user);
      ids.push(order.id);
      await request(h.app)
        .patch(`/api/orders/${order.id}`)
        .set('Cookie', user.cookie)
        .send({ status: 'cancelled' })
        .expect(200);
    }
    await placeOrder(buyer());
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;

    do {
      const page: OrdersPage = await listOrders(user, { limit: '3', ...(cursor === null ? {} : { cursor }) });
      expect(page.orders.length).toBeLessThanOrEqual(3);
      seen.push(...page.orders.map((o) => o.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null);

    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it('gives a null cursor when the last page is exactly full', async () => {
    const user = buyer();
    await placeOrder(user);
    await placeOrder(user);

    const page = await listOrders(user, { limit: '2' });

    expect(page.orders).toHaveLength(2);
    expect(page.nextCursor).toBeNull();
  });

  it.each(['0', '101', 'abc', '1.5', '-1', ''])('rejects limit=%p with 400', async (limit) => {
    const res = await request(h.app).get('/api/orders').query({ limit }).set('Cookie', buyer().cookie);

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'limit', code: 'VALIDATION_FAILED' });
  });

  it('rejects a repeated limit with 400', async () => {
    await request(h.app).get('/api/orders?limit=2&limit=3').set('Cookie', buyer().cookie).expect(400);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['an encoded non-id', encodeCursor('hello world')],
    ['a raw id instead of the encoded cursor', '64b7f0c2a1b2c3d4e5f60718'],
  ])('rejects %s as a cursor with 400 INVALID_CURSOR', async (_case, cursor) => {
    const res = await request(h.app).get('/api/orders').query({ cursor }).set('Cookie', buyer().cookie);

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'cursor', code: 'INVALID_CURSOR' });
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
