import { eventually } from '@ticketing/common/testing';
import type { Stack } from '@ticketing/devinfra';
import {
  Client,
  STACK_START_TIMEOUT_MS,
  errorCode,
  getOrder,
  getTicket,
  orderWhenKnown,
  payWhenKnown,
  sellTicket,
  signUp,
  startE2eStack,
  type OrderJson,
  type TicketJson,
} from './harness';

/**
 * The buying side of the system end to end: five services as separate processes, a real bus, the
 * gateway in front. The expiration window is the default (15 minutes), so no order here expires by
 * itself; test/e2e/expiration.test.ts covers expiry with a short window.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startE2eStack();
}, STACK_START_TIMEOUT_MS);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

describe('the gateway', () => {
  it('routes each API prefix to its service, and answers unknown paths with a JSON 404', async () => {
    const anonymous = new Client(stack.baseUrl);
    expect((await anonymous.get('/api/users/currentuser')).body).toEqual({ currentUser: null });
    expect((await anonymous.get('/api/tickets')).status).toBe(200);
    expect((await anonymous.get('/api/orders')).status).toBe(401);
    expect((await anonymous.post('/api/payments', {})).status).toBe(401);
    const unknown = await anonymous.get('/api/nothing-here');
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe('ROUTE_NOT_FOUND');
  });
});

describe('buying a ticket', () => {
  it('sign up, sell, order, pay: the order completes, the ticket is sold and the seller cannot edit it', async () => {
    const seller = await signUp(stack.baseUrl);
    const buyer = await signUp(stack.baseUrl);
    expect(buyer.hasSession()).toBe(true);
    const me = await buyer.get<{ currentUser: { id: string; email: string } | null }>('/api/users/currentuser');
    expect(me.body.currentUser?.email).toBe(buyer.email);

    const ticket = await sellTicket(seller, 42.5);
    expect(ticket).toMatchObject({ price: 42.5, userId: expect.any(String) as string });
    // The orders replica knows the seller from ticket:created: no buying from yourself.
    const own = await orderWhenKnown(seller, ticket.id);
    expect(own.status).toBe(400);
    expect(errorCode(own)).toBe('CANNOT_BUY_OWN_TICKET');

    const created = await orderWhenKnown(buyer, ticket.id);
    expect(created.status).toBe(201);
    const order = created.body;
    expect(order).toMatchObject({ status: 'created', price: 42.5, ticket: { id: ticket.id } });
    expect(new Date(order.expiresAt).getTime()).toBeGreaterThan(Date.now());

    // The tickets service learns of the reservation from order:created.
    await eventually(async () => expect((await getTicket(seller, ticket.id)).orderId).toBe(order.id), {
      timeoutMs: 15_000,
    });
    const editWhileOrdered = await seller.put(`/api/tickets/${ticket.id}`, { title: 'Cheaper', price: 10 });
    expect(editWhileOrdered.status).toBe(400);
    expect(errorCode(editWhileOrdered)).toBe('TICKET_RESERVED');

    const payment = await payWhenKnown(buyer, order.id);
    expect(payment.status).toBe(201);
    expect(payment.body.id).toEqual(expect.any(String));

    await eventually(async () => expect((await getOrder(buyer, order.id)).status).toBe('complete'), {
      timeoutMs: 15_000,
    });

    // Sold: the tickets service hears order:completed; held by the paid order for good, not for
    // sale, not editable, not orderable.
    await eventually(async () => expect((await getTicket(seller, ticket.id)).sold).toBe(true), {
      timeoutMs: 15_000,
    });
    const sold = await getTicket(seller, ticket.id);
    expect(sold.orderId).toBe(order.id);
    const forSale = await buyer.get<{ tickets: TicketJson[] }>('/api/tickets?limit=100');
    expect(forSale.body.tickets.map((t) => t.id)).not.toContain(ticket.id);
    const editAfterSale = await seller.put(`/api/tickets/${ticket.id}`, { title: 'Cheaper', price: 10 });
    expect(editAfterSale.status).toBe(400);
    expect(errorCode(editAfterSale)).toBe('TICKET_SOLD');
    const latecomer = await signUp(stack.baseUrl);
    const lateOrder = await latecomer.post('/api/orders', { ticketId: ticket.id });
    expect(lateOrder.status).toBe(400);

    // A second payment for the paid order is refused, and the buyer cannot cancel a complete order.
    const again = await buyer.post('/api/payments', { orderId: order.id, token: 'tok_visa' });
    expect(again.status).toBe(400);
    const cancel = await buyer.patch(`/api/orders/${order.id}`, { status: 'cancelled' });
    expect(cancel.status).toBe(400);
    expect((await getOrder(buyer, order.id)).status).toBe('complete');
  }, 60_000);
});

describe('cancelling an order', () => {
  it('releases the ticket at once, so the same buyer can order it again and the new order holds it', async () => {
    const seller = await signUp(stack.baseUrl);
    const buyer = await signUp(stack.baseUrl);
    const ticket = await sellTicket(seller, 15);

    const first = await orderWhenKnown(buyer, ticket.id);
    expect(first.status).toBe(201);
    const cancelled = await buyer.patch<OrderJson>(`/api/orders/${first.body.id}`, { status: 'cancelled' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');

    const second = await buyer.post<OrderJson>('/api/orders', { ticketId: ticket.id });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);

    // order:cancelled (first) and order:created (second) may reach the tickets service in either
    // order; whichever it is, the ticket ends up held by the second order.
    await eventually(async () => expect((await getTicket(seller, ticket.id)).orderId).toBe(second.body.id), {
      timeoutMs: 15_000,
    });
    const mine = await buyer.get<{ orders: OrderJson[]; nextCursor: string | null }>('/api/orders');
    expect(mine.status).toBe(200);
    expect(mine.body.nextCursor).toBeNull();
    const statuses = Object.fromEntries(mine.body.orders.map((o) => [o.id, o.status]));
    expect(statuses).toEqual({ [first.body.id]: 'cancelled', [second.body.id]: 'created' });
  }, 60_000);
});

describe('concurrent buyers', () => {
  it('30 buyers ordering one ticket at the same moment get exactly one order', async () => {
    const seller = await signUp(stack.baseUrl);
    const ticket = await sellTicket(seller, 99.99);
    const buyers: Client[] = [];
    for (let i = 0; i < 30; i++) buyers.push(await signUp(stack.baseUrl));

    // All 30 fire together. Should the orders service not know the ticket yet (404), the ones that got
    // a 404 fire again together, until every buyer has had a real answer.
    const answers = new Map<Client, { status: number; code: string | undefined; order?: OrderJson }>();
    await eventually(
      async () => {
        const waiting = buyers.filter((b) => !answers.has(b) || answers.get(b)?.status === 404);
        const results = await Promise.all(
          waiting.map(async (b) => [b, await b.post<OrderJson>('/api/orders', { ticketId: ticket.id })] as const),
        );
        for (const [b, res] of results) {
          answers.set(b, {
            status: res.status,
            code: errorCode(res),
            ...(res.status === 201 ? { order: res.body } : {}),
          });
        }
        expect([...answers.values()].filter((a) => a.status === 404)).toHaveLength(0);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

    const all = [...answers.values()];
    const winners = all.filter((a) => a.status === 201);
    expect(winners).toHaveLength(1);
    expect(all.filter((a) => a.status === 400 && a.code === 'TICKET_RESERVED')).toHaveLength(29);
    const winning = winners[0]!.order!;

    // The system agrees: the ticket is held by that order, and no other buyer has an order.
    await eventually(async () => expect((await getTicket(seller, ticket.id)).orderId).toBe(winning.id), {
      timeoutMs: 15_000,
    });
    const orderCounts = await Promise.all(
      buyers.map(
        async (b) =>
          (await b.get<{ orders: OrderJson[] }>('/api/orders')).body.orders.filter((o) => o.ticket.id === ticket.id)
            .length,
      ),
    );
    expect(orderCounts.reduce((sum, n) => sum + n, 0)).toBe(1);
  }, 90_000);
});
