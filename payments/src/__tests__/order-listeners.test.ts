import { OrderStatus, RetryLaterError, Subjects, type OrderCreatedEvent } from '@ticketing/common';
import { eventually } from '@ticketing/common/testing';
import request from 'supertest';
import { Order, applyOrderEvent, type OrderDoc } from '../models/order';
import { Payment, PaymentStatus } from '../models/payment';
import { buyer, newId, startPayments, type PaymentsHarness } from './harness';

let h: PaymentsHarness;

beforeAll(async () => {
  h = await startPayments('order-listeners');
});

afterAll(async () => {
  await h.close();
});

beforeEach(() => {
  h.proxy.reset();
});

function orderCreated(overrides: Partial<OrderCreatedEvent['data']> = {}): OrderCreatedEvent['data'] {
  return {
    id: newId(),
    version: 0,
    status: OrderStatus.Created,
    userId: newId(),
    expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    ticket: { id: newId(), price: 19.99 },
    ...overrides,
  };
}

const cancelled = (order: OrderCreatedEvent['data'], version: number) => ({
  id: order.id,
  version,
  ticket: { id: order.ticket.id },
});

async function replicaOf(id: string) {
  return Order.findById(id).lean();
}

describe('order:created', () => {
  it('adds the order to the replica with its price in cents, owner, status, expiry and version', async () => {
    const event = orderCreated();

    await h.bus.publish(Subjects.OrderCreated, event);

    const order = await eventually(async () => {
      const found = await replicaOf(event.id);
      expect(found).not.toBeNull();
      return found!;
    });
    expect(order).toMatchObject({
      userId: event.userId,
      status: OrderStatus.Created,
      priceCents: 1999,
      version: 0,
    });
    expect(order.expiresAt.toISOString()).toBe(event.expiresAt);
  });

  it('ignores a duplicate order:created', async () => {
    const event = orderCreated();
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());

    await h.bus.publish(Subjects.OrderCreated, { ...event, userId: newId() });
    // A later event proves the duplicate was handled (acked) without changing anything.
    await h.bus.publish(Subjects.OrderCancelled, cancelled(event, 1));

    await eventually(async () => expect((await replicaOf(event.id))?.version).toBe(1));
    expect(await replicaOf(event.id)).toMatchObject({ userId: event.userId, status: OrderStatus.Cancelled });
    expect(await Order.countDocuments({ _id: event.id })).toBe(1);
  });

  it('lets the buyer pay 19.99 from the event as 1999 cents at Stripe', async () => {
    const user = buyer();
    const event = orderCreated({ userId: user.id, ticket: { id: newId(), price: 19.99 } });
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());

    await request(h.app)
      .post('/api/payments')
      .set('Cookie', user.cookie)
      .send({ orderId: event.id, token: 'tok_visa' })
      .expect(201);

    expect(h.proxy.charges().map((c) => c.form.get('amount'))).toEqual(['1999']);
    expect(await Payment.findOne({ orderId: event.id }).lean()).toMatchObject({ amount: 1999 });
  });
});

describe('order:cancelled', () => {
  it('marks the order cancelled (version N over N-1)', async () => {
    const event = orderCreated();
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());

    await h.bus.publish(Subjects.OrderCancelled, cancelled(event, 1));

    await eventually(async () =>
      expect(await replicaOf(event.id)).toMatchObject({ status: OrderStatus.Cancelled, version: 1 }),
    );
  });

  it('waits for order:created when it arrives first (an event from the future is redelivered)', async () => {
    const event = orderCreated();

    await h.bus.publish(Subjects.OrderCancelled, cancelled(event, 1));
    await h.bus.publish(Subjects.OrderCreated, event);

    await eventually(
      async () => expect(await replicaOf(event.id)).toMatchObject({ status: OrderStatus.Cancelled, version: 1 }),
      { timeoutMs: 10_000 },
    );
  });

  it('acks and ignores an event the replica already has or is past', async () => {
    const event = orderCreated();
    await h.bus.publish(Subjects.OrderCreated, event);
    await h.bus.publish(Subjects.OrderCompleted, cancelled(event, 1));
    await eventually(async () => expect((await replicaOf(event.id))?.version).toBe(1));

    const toCancelled = (order: OrderDoc) => order.set('status', OrderStatus.Cancelled);
    await expect(applyOrderEvent(cancelled(event, 1), toCancelled)).resolves.toBe('stale');
    await expect(applyOrderEvent(cancelled(event, 0), toCancelled)).resolves.toBe('stale');

    expect(await replicaOf(event.id)).toMatchObject({ status: OrderStatus.Complete, version: 1 });
  });

  it('leaves an event from the future for later (RetryLaterError), changing nothing', async () => {
    const event = orderCreated();
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());

    await expect(
      applyOrderEvent(cancelled(event, 2), (order) => order.set('status', OrderStatus.Cancelled)),
    ).rejects.toThrow(RetryLaterError);

    expect(await replicaOf(event.id)).toMatchObject({ status: OrderStatus.Created, version: 0 });
  });

  it('refunds a payment of an order that is cancelled afterwards', async () => {
    const user = buyer();
    const event = orderCreated({ userId: user.id });
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());
    const res = await request(h.app)
      .post('/api/payments')
      .set('Cookie', user.cookie)
      .send({ orderId: event.id, token: 'pm_card_visa' })
      .expect(201);

    await h.bus.publish(Subjects.OrderCancelled, cancelled(event, 1));

    await eventually(async () =>
      expect(await Payment.findById(res.body.id).lean()).toMatchObject({
        status: PaymentStatus.Refunded,
        refundId: expect.stringMatching(/^re_/),
      }),
    );
    const payment = await Payment.findById(res.body.id).lean();
    const [refund, ...more] = h.proxy.refunds();
    expect(more).toHaveLength(0);
    expect(refund!.form.get('payment_intent')).toBe(payment!.stripeId);
    expect(refund!.idempotencyKey).toBe(`refund-${payment!.stripeId}`);
  });

  it('retries a refund that failed at Stripe on redelivery', async () => {
    const user = buyer();
    const event = orderCreated({ userId: user.id });
    await h.bus.publish(Subjects.OrderCreated, event);
    await eventually(async () => expect(await replicaOf(event.id)).not.toBeNull());
    await request(h.app)
      .post('/api/payments')
      .set('Cookie', user.cookie)
      .send({ orderId: event.id, token: 'pm_card_visa' })
      .expect(201);
    let failures = 1;
    h.proxy.intercept((r) => {
      if (r.path !== '/v1/refunds' || failures === 0) return undefined;
      failures -= 1;
      return { status: 500, body: { error: { type: 'api_error', message: 'try again' } } };
    });

    await h.bus.publish(Subjects.OrderCancelled, cancelled(event, 1));

    await eventually(
      async () => expect(await Payment.findOne({ orderId: event.id }).lean()).toMatchObject({ status: 'refunded' }),
      { timeoutMs: 10_000 },
    );
    expect(h.proxy.refunds()).toHaveLength(2);
  });
});

describe('order:completed', () => {
  it('marks the order complete, after which a payment is refused', async () => {
    const user = buyer();
    const event = orderCreated({ userId: user.id });
    await h.bus.publish(Subjects.OrderCreated, event);

    await h.bus.publish(Subjects.OrderCompleted, cancelled(event, 1));

    await eventually(async () =>
      expect(await replicaOf(event.id)).toMatchObject({ status: OrderStatus.Complete, version: 1 }),
    );
    const res = await request(h.app)
      .post('/api/payments')
      .set('Cookie', user.cookie)
      .send({ orderId: event.id, token: 'tok_visa' })
      .expect(400);
    expect(res.body.errors[0].code).toBe('ORDER_COMPLETE');
  });
});
