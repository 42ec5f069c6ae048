import { OrderStatus, Subjects } from '@ticketing/common';
import { stripeCalls } from '@ticketing/devinfra';
import { eventually, silentLogger } from '@ticketing/common/testing';
import request from 'supertest';
import { Order, type OrderDoc } from '../models/order';
import { Payment, PaymentStatus } from '../models/payment';
import { PaymentReconciler } from '../services/reconciler';
import {
  TEST_RECONCILE,
  buildOrder,
  buyer,
  startPayments,
  stripeClientFor,
  type PaymentsHarness,
  type TestUser,
} from './harness';

/**
 * Payments whose outcome the route cannot know (Stripe's answer lost, late or a 5xx after the charge,
 * an intent still processing): the claim stays, marked unknown, the buyer is told "pending", no new
 * attempt charges again, and the reconciler settles the claim from what Stripe says. Stripe is the
 * test mode in front of stripe-mock (infra/dev/lib/stripe-test-mode.ts): it keeps the intents,
 * and the test loses, delays or rewrites its answers.
 */

let h: PaymentsHarness;

beforeAll(async () => {
  h = await startPayments('unknown-outcome');
});

afterAll(async () => {
  await h.close();
});

beforeEach(() => {
  h.proxy.reset();
});

const pay = (user: TestUser, orderId: string, token = 'pm_card_visa', app = h.app) =>
  request(app).post('/api/payments').set('Cookie', user.cookie).send({ orderId, token });

const paymentOf = (orderId: string) => Payment.findOne({ orderId }).lean();

/** What the orders service publishes when it cancels (or expires) the order. */
const cancel = (order: OrderDoc) =>
  h.bus.publish(Subjects.OrderCancelled, { id: order.id, version: order.version + 1, ticket: { id: order.id } });

/**
 * A reset answer: the Stripe client retries a closed connection once by itself (same idempotency
 * key, so Stripe replays its answer), so losing the answer means losing both.
 */
const LOST = { kind: 'drop' } as const;
const LOST_TIMES = 2;

/** The reconciler's settling takes a pass or two (200 ms apart here); 10 s leaves room for a loaded machine. */
const SETTLE_MS = 10_000;
const SETTLE = { timeoutMs: SETTLE_MS, intervalMs: 50 };

/**
 * The distinct payment:created events of an order (the outbox publishes at least once, so a
 * redelivery repeats an event id; a second recording of the payment would stage a new one).
 */
const paymentEventsOf = (orderId: string): string[] => [
  ...new Set(
    h.probe.events
      .filter((e) => e.subject === Subjects.PaymentCreated && (e.data as { orderId: string }).orderId === orderId)
      .map((e) => e.id),
  ),
];

describe('POST /api/payments when the outcome is unknown', () => {
  it('answer lost after Stripe charged, retried with a new token: one PaymentIntent, the order paid once', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id, priceCents: 4_200 });
    h.proxy.failAnswers(stripeCalls.confirmIntent, LOST, LOST_TIMES);

    const first = await pay(user, order.id, 'tok_visa').expect(202);
    const answeredAt = Date.now();

    expect(first.body).toEqual({ id: expect.any(String), status: 'pending' });
    const [intent, ...others] = h.proxy.intentsFor(order.id);
    expect(others).toHaveLength(0);
    expect(intent!.status).toBe('succeeded');
    // The buyer retries at once with a fresh token: nothing new is charged, the same payment answers.
    const retry = await pay(user, order.id, 'tok_mastercard');
    expect([200, 202]).toContain(retry.status);
    expect(retry.body.id).toBe(first.body.id);

    const event = await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.orderId === order.id, SETTLE_MS);
    process.stderr.write(`[figure] unknown payment settled ${Date.now() - answeredAt} ms after the 202\n`);
    expect(event).toEqual({ id: first.body.id, orderId: order.id, stripeId: intent!.id });
    expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Succeeded, stripeId: intent!.id });
    expect(h.proxy.intentsFor(order.id)).toHaveLength(1);
    // The client's own retry of the confirmation carried the same key: Stripe replayed it.
    expect(new Set(h.proxy.confirmations().map((r) => r.idempotencyKey))).toEqual(
      new Set([`payment-${first.body.id}-confirm`]),
    );
    expect((await pay(user, order.id, 'tok_amex').expect(200)).body).toEqual({
      id: first.body.id,
      status: 'succeeded',
    });
    expect(paymentEventsOf(order.id)).toHaveLength(1);
  });

  it('a confirmation that times out after Stripe charged is kept as pending and recorded by the reconciler', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    const impatient = h.appWith(stripeClientFor(h.proxy.url, { timeoutMs: 300 }));
    h.proxy.failAnswers(stripeCalls.confirmIntent, { kind: 'delay', ms: 1_500 });

    const res = await pay(user, order.id, 'pm_card_visa', impatient).expect(202);

    expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Unknown });
    await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.id === res.body.id, SETTLE_MS);
    expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Succeeded });
  });

  it('a 5xx after the confirmation took effect is pending, never "no payment was recorded"', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.failAnswers(stripeCalls.confirmIntent, { kind: 'server-error' });

    const res = await pay(user, order.id).expect(202);

    await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.id === res.body.id, SETTLE_MS);
    expect(h.proxy.intentsFor(order.id).map((i) => i.status)).toEqual(['succeeded']);
  });

  it('a lost answer of a declined confirmation releases the claim once the reconciler asked, charging nothing', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.failAnswers(stripeCalls.confirmIntent, LOST, LOST_TIMES);

    await pay(user, order.id, 'tok_chargeDeclined').expect(202);

    await eventually(async () => expect(await paymentOf(order.id)).toBeNull(), SETTLE);
    expect(paymentEventsOf(order.id)).toHaveLength(0);
    // Free again: the buyer pays with another card.
    await pay(user, order.id, 'tok_visa').expect(201);
  });

  it('an unconfirmed intent whose creation answer was lost charges nothing: 503, and the retry pays', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.failAnswers(stripeCalls.createIntent, LOST, LOST_TIMES);

    const res = await pay(user, order.id).expect(503);

    expect(res.body.errors[0]).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
    expect(res.body.errors[0].message).toContain('nothing was charged');
    expect(h.proxy.intentsFor(order.id).map((i) => i.status)).toEqual(['requires_confirmation']);
    await pay(user, order.id).expect(201);
    expect(h.proxy.intentsFor(order.id).filter((i) => i.status === 'succeeded')).toHaveLength(1);
  });

  it('records the payment and refunds it when the order was cancelled while the outcome was unknown', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    // Held back until the cancellation is stored, so the cancellation lands while the outcome is unknown.
    await h.reconciler.stop();
    try {
      h.proxy.failAnswers(stripeCalls.confirmIntent, LOST, LOST_TIMES);
      await pay(user, order.id).expect(202);
      await cancel(order);
      await eventually(async () => expect((await Order.findById(order.id).lean())?.status).toBe(OrderStatus.Cancelled));
    } finally {
      h.reconciler.start();
    }

    await eventually(
      async () => expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Refunded }),
      SETTLE,
    );
    const [intent] = h.proxy.intentsFor(order.id);
    expect(h.proxy.refunds().map((r) => r.form.get('payment_intent'))).toEqual([intent!.id]);
    // Published all the same: the orders service records the money taken for a cancelled order.
    await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.orderId === order.id);
  });
});

describe('POST /api/payments and the PaymentIntent status', () => {
  it('processing answers 202 and completes only once the intent succeeds', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.onConfirm(() => 'processing');

    const res = await pay(user, order.id).expect(202);

    expect(res.body).toEqual({ id: expect.any(String), status: 'pending' });
    const [intent] = h.proxy.intentsFor(order.id);
    // The reconciler keeps asking; while processing, nothing completes and nothing is charged again.
    await eventually(
      () => expect(h.proxy.requests.filter(stripeCalls.retrieveIntent).length).toBeGreaterThan(1),
      SETTLE,
    );
    expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Unknown, stripeStatus: 'processing' });
    expect((await pay(user, order.id, 'pm_card_mastercard').expect(202)).body.id).toBe(res.body.id);
    expect(paymentEventsOf(order.id)).toHaveLength(0);

    h.proxy.settle(intent!.id, 'succeeded');

    await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.id === res.body.id, SETTLE_MS);
    expect(await paymentOf(order.id)).toMatchObject({ status: PaymentStatus.Succeeded, stripeStatus: 'succeeded' });
    expect(h.proxy.intentsFor(order.id)).toHaveLength(1);
  });

  it('requires_payment_method answers 402 PAYMENT_DECLINED and completes nothing', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.onConfirm(() => 'requires_payment_method');

    const res = await pay(user, order.id).expect(402);

    expect(res.body.errors[0].code).toBe('PAYMENT_DECLINED');
    expect(await paymentOf(order.id)).toBeNull();
    expect(paymentEventsOf(order.id)).toHaveLength(0);
  });

  it('requires_action answers 402 PAYMENT_NOT_COMPLETED and cancels the intent, so it can never charge', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.onConfirm(() => 'requires_action');

    const res = await pay(user, order.id).expect(402);

    expect(res.body.errors[0].code).toBe('PAYMENT_NOT_COMPLETED');
    expect(h.proxy.intentsFor(order.id).map((i) => i.status)).toEqual(['canceled']);
    expect(await paymentOf(order.id)).toBeNull();
  });

  it('canceled answers 402 PAYMENT_NOT_COMPLETED and completes nothing', async () => {
    const user = buyer();
    const order = await buildOrder({ userId: user.id });
    h.proxy.onConfirm(() => 'canceled');

    const res = await pay(user, order.id).expect(402);

    expect(res.body.errors[0].code).toBe('PAYMENT_NOT_COMPLETED');
    expect(await paymentOf(order.id)).toBeNull();
    expect(paymentEventsOf(order.id)).toHaveLength(0);
  });
});

describe('the reconciler with several replicas', () => {
  it('settles each unknown payment once when three reconcilers run at once', async () => {
    await h.reconciler.stop();
    const replicas = [1, 2].map(
      () => new PaymentReconciler({ stripe: h.stripe, relay: h.relay, logger: silentLogger, ...TEST_RECONCILE }),
    );
    try {
      const users = Array.from({ length: 6 }, () => buyer());
      const orders = await Promise.all(users.map((user) => buildOrder({ userId: user.id })));
      h.proxy.failAnswers(stripeCalls.confirmIntent, LOST, LOST_TIMES * orders.length);
      const ids = await Promise.all(
        orders.map(async (order, i) => (await pay(users[i]!, order.id).expect(202)).body.id as string),
      );

      h.reconciler.start();
      for (const replica of replicas) replica.start();

      await eventually(async () => {
        const stored = await Payment.find({ _id: { $in: ids } }).lean();
        expect(stored.map((p) => p.status)).toEqual(ids.map(() => PaymentStatus.Succeeded));
      }, SETTLE);
      for (const id of ids) await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.id === id);
      for (const order of orders) expect(paymentEventsOf(order.id)).toHaveLength(1);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});
