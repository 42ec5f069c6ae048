import { OrderStatus, Subjects } from '@ticketing/common';
import { eventually } from '@ticketing/common/testing';
import request from 'supertest';
import { Order, type OrderDoc } from '../models/order';
import { Payment, PaymentStatus } from '../models/payment';
import { buildOrder, buyer, startPayments, type PaymentsHarness, type TestUser } from './harness';

let h: PaymentsHarness;

beforeAll(async () => {
  h = await startPayments('payment-races');
});

afterAll(async () => {
  await h.close();
});

beforeEach(() => {
  h.proxy.reset();
});

const pay = (user: TestUser, orderId: string, token = 'pm_card_visa') =>
  request(h.app).post('/api/payments').set('Cookie', user.cookie).send({ orderId, token });

/** What the orders service publishes when it cancels (or expires) the order. */
const cancel = (order: OrderDoc) =>
  h.bus.publish(Subjects.OrderCancelled, { id: order.id, version: order.version + 1, ticket: { id: order.id } });

describe('POST /api/payments under concurrency', () => {
  it('charges once when the same order is paid 10 times at once: one 201, the others that payment', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id, priceCents: 1_999 });

    const responses = await Promise.all(Array.from({ length: 10 }, () => pay(user, order.id, 'tok_visa')));

    const created = responses.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const paymentId = created[0]!.body.id as string;
    // The others found the claim: still under way (202 pending) or already paid (200 succeeded).
    for (const res of responses.filter((r) => r.status !== 201)) {
      expect([200, 202]).toContain(res.status);
      expect(res.body).toEqual({ id: paymentId, status: res.status === 200 ? 'succeeded' : 'pending' });
    }
    expect(h.proxy.charges()).toHaveLength(1);
    expect(h.proxy.confirmations()).toHaveLength(1);
    expect(h.proxy.charges()[0]!.form.get('amount')).toBe('1999');
    expect(await Payment.countDocuments({ orderId: order.id })).toBe(1);
    await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.orderId === order.id);
    expect(h.probe.of(Subjects.PaymentCreated).filter((e) => e.orderId === order.id)).toHaveLength(1);
  });

  it('answers 202 pending to a payment while another one of the same order is at Stripe, charging nothing', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    const release = h.proxy.holdCharges();
    const first = pay(user, order.id).then((r) => r);
    await eventually(() => expect(h.proxy.charges()).toHaveLength(1));

    const second = await pay(user, order.id, 'pm_card_mastercard');

    expect(second.status).toBe(202);
    release();
    const paid = await first;
    expect(paid.status).toBe(201);
    expect(second.body).toEqual({ id: paid.body.id, status: 'pending' });
    expect(h.proxy.charges()).toHaveLength(1);
    // Asked again once the first is through, it gets that outcome.
    expect((await pay(user, order.id, 'pm_card_mastercard')).body).toEqual({ id: paid.body.id, status: 'succeeded' });
  });
});

describe('paying while the order expires', () => {
  it('refunds and answers 400 ORDER_CANCELLED when the order is cancelled while Stripe charges', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    const release = h.proxy.holdCharges();
    const payment = pay(user, order.id).then((r) => r);
    await eventually(() => expect(h.proxy.charges()).toHaveLength(1));

    await cancel(order);
    await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Cancelled));
    release();

    const res = await payment;
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual({
      code: 'ORDER_CANCELLED',
      message: 'This order was cancelled while it was being paid; the charge has been refunded',
    });
    await eventually(async () =>
      expect(await Payment.findOne({ orderId: order.id }).lean()).toMatchObject({ status: PaymentStatus.Refunded }),
    );
    expect(h.proxy.refunds().length).toBeGreaterThanOrEqual(1);
    // Every refund request for this payment carries the same key: Stripe refunds it once.
    expect(new Set(h.proxy.refunds().map((r) => r.idempotencyKey)).size).toBe(1);
  });

  it('ends consistent whichever of payment and cancellation lands first', async () => {
    const rounds = 8;
    const outcomes: string[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      const [res] = await Promise.all([pay(user, order.id), cancel(order)]);

      // The cancellation always lands (the orders service decided it); the payment either never
      // happened, or it happened and is refunded. Never: a cancelled order holding a live payment.
      await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Cancelled));
      await eventually(async () => {
        const payment = await Payment.findOne({ orderId: order.id }).lean();
        if (res.status === 201) expect(payment?.status).toBe(PaymentStatus.Refunded);
        else {
          expect(res.status).toBe(400);
          expect(res.body.errors[0].code).toBe('ORDER_CANCELLED');
          expect([undefined, PaymentStatus.Refunded]).toContain(payment?.status);
        }
      });
      outcomes.push(res.status === 201 ? 'paid-then-refunded' : 'refused');
    }
    expect(outcomes).toHaveLength(rounds);
  });
});
