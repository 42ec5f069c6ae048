import { OrderStatus } from '@ticketing/common';
import { silentLogger } from '@ticketing/common/testing';
import request from 'supertest';
import { Order } from '../models/order';
import { UserOrders } from '../models/user-orders';
import { reconcileOrderIndex } from '../services/order-index';
import { buildTicket, buyer, newId, startOrders, type OrdersHarness, type TestUser } from './harness';

/**
 * GET /api/orders reads each user's list of orders (services/order-index.ts), not a query over every
 * order: what must hold is that the list says exactly what the orders say.
 */

let h: OrdersHarness;
beforeAll(async () => {
  h = await startOrders('list-orders');
});
afterAll(() => h.close());

interface OrdersPage {
  orders: Array<{ id: string; status: string; userId: string; ticket: { id: string; title: string } }>;
  nextCursor: string | null;
}

async function placeOrder(user: TestUser, title = 'Concert'): Promise<string> {
  const ticket = await buildTicket({ title });
  const res = await request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: ticket.id });
  expect(res.status).toBe(201);
  return (res.body as { id: string }).id;
}

async function allPages(user: TestUser, limit: number): Promise<OrdersPage['orders']> {
  const seen: OrdersPage['orders'] = [];
  let cursor: string | null = null;
  do {
    const query: Record<string, string> = { limit: String(limit), ...(cursor === null ? {} : { cursor }) };
    const res = await request(h.app).get('/api/orders').query(query).set('Cookie', user.cookie).expect(200);
    const page = res.body as OrdersPage;
    seen.push(...page.orders);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return seen;
}

describe('GET /api/orders from the lists of orders', () => {
  it('shows an order at once, and its new status once cancelled, never another user’s', async () => {
    const user = buyer();
    const others = [buyer(), buyer()];
    const mine: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      await placeOrder(others[i % 2] as TestUser);
      mine.push(await placeOrder(user, `Mine ${i}`));
      // Read straight after the POST: no waiting for any event.
      const listed = await allPages(user, 2);
      expect(listed.map((o) => o.id)).toEqual([...mine].reverse());
    }
    const cancelled = mine[1] as string;
    await request(h.app)
      .patch(`/api/orders/${cancelled}`)
      .set('Cookie', user.cookie)
      .send({ status: 'cancelled' })
      .expect(200);

    const listed = await allPages(user, 3);

    expect(listed.map((o) => [o.id, o.status])).toEqual(
      [...mine].reverse().map((id) => [id, id === cancelled ? OrderStatus.Cancelled : OrderStatus.Created]),
    );
    expect(new Set(listed.map((o) => o.userId))).toEqual(new Set([user.id]));
    expect(listed[0]?.ticket.title).toBe('Mine 3');
  });

  it('shows each of several orders of one ticket with the ticket', async () => {
    const user = buyer();
    const ticket = await buildTicket({ title: 'Twice' });
    const order = async (): Promise<string> => {
      const res = await request(h.app).post('/api/orders').set('Cookie', user.cookie).send({ ticketId: ticket.id });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    const first = await order();
    await request(h.app)
      .patch(`/api/orders/${first}`)
      .set('Cookie', user.cookie)
      .send({ status: 'cancelled' })
      .expect(200);
    const second = await order();

    const listed = await allPages(user, 5);

    expect(listed.map((o) => [o.id, o.ticket.title])).toEqual([
      [second, 'Twice'],
      [first, 'Twice'],
    ]);
  });

  it('never shows an id that is in the list but is not an order of the caller', async () => {
    const user = buyer();
    const mine = await placeOrder(user);
    const someoneElses = await placeOrder(buyer());
    // Ids that a list could hold by mistake: another user's order, an order that does not exist.
    await UserOrders.updateOne({ _id: user.id }, { $addToSet: { orders: { $each: [someoneElses, newId()] } } });

    const listed = await allPages(user, 1);

    expect(listed.map((o) => o.id)).toEqual([mine]);
  });

  it('lists, after the scan at start, orders stored without a list entry', async () => {
    const user = buyer();
    const listedBefore = await placeOrder(user);
    // As stored before the lists existed, or by a process that stopped before listing it.
    const ticket = await buildTicket({ title: 'Old' });
    const old = await Order.create({
      userId: user.id,
      status: OrderStatus.Cancelled,
      expiresAt: new Date(),
      ticket: ticket._id,
      priceCents: ticket.priceCents,
      ticketLock: newId(),
    });
    expect((await allPages(user, 5)).map((o) => o.id)).toEqual([listedBefore]);

    const result = await reconcileOrderIndex(silentLogger);

    expect(result.added).toBeGreaterThanOrEqual(1);
    expect((await allPages(user, 5)).map((o) => o.id)).toEqual([old.id, listedBefore]);
    // A second scan finds nothing more to add for this user.
    await reconcileOrderIndex(silentLogger);
    expect((await UserOrders.findById(user.id).lean())?.orders.map(String)).toHaveLength(2);
  });
});
