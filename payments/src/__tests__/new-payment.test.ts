import { OrderStatus, OutboxRelay, Subjects, countUnpublished, makeClientId, createBus } from '@ticketing/common';
import { freePort } from '@ticketing/devinfra';
import { TEST_JWT_KEY, eventually, natsTestConfig, silentLogger, testChannelPrefix } from '@ticketing/common/testing';
import { Types } from 'mongoose';
import request from 'supertest';
import { buildApp } from '../app';
import { Payment, PaymentStatus } from '../models/payment';
import { idempotencyKey } from '../services/charge';
import {
  TEST_RECONCILE,
  buildOrder,
  buyer,
  newId,
  startPayments,
  stripeClientFor,
  type PaymentsHarness,
} from './harness';

let h: PaymentsHarness;

beforeAll(async () => {
  h = await startPayments('new-payment', { listeners: false });
});

afterAll(async () => {
  await h.close();
});

beforeEach(() => {
  h.proxy.reset();
});

/** Events of this payment not yet known to be published. */
const unpublishedOf = (id: string) =>
  countUnpublished(Payment.db, Payment.collection.collectionName, { _id: new Types.ObjectId(id) });

const pay = (cookie: string[] | undefined, body: Record<string, unknown>) => {
  const req = request(h.app).post('/api/payments');
  if (cookie !== undefined) void req.set('Cookie', cookie);
  return req.send(body);
};

describe('POST /api/payments', () => {
  describe('refusals', () => {
    it('rejects a caller who is not signed in with 401', async () => {
      const order = await buildOrder();

      const res = await pay(undefined, { orderId: order.id, token: 'tok_visa' }).expect(401);

      expect(res.body.errors[0].code).toBe('NOT_AUTHORIZED');
      expect(h.proxy.requests).toHaveLength(0);
    });

    it('rejects a malformed order id with 400', async () => {
      const res = await pay(buyer().cookie, { orderId: 'not-an-id', token: 'tok_visa' }).expect(400);

      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'orderId', code: 'VALIDATION_FAILED' })]);
    });

    it('rejects a missing or empty token with 400', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      const missing = await pay(user.cookie, { orderId: order.id }).expect(400);
      const empty = await pay(user.cookie, { orderId: order.id, token: '  ' }).expect(400);
      const notString = await pay(user.cookie, { orderId: order.id, token: 42 }).expect(400);

      for (const res of [missing, empty, notString]) expect(res.body.errors[0].field).toBe('token');
      expect(h.proxy.requests).toHaveLength(0);
    });

    it('rejects a body that is not JSON with 400', async () => {
      const res = await request(h.app)
        .post('/api/payments')
        .set('Cookie', buyer().cookie)
        .set('Content-Type', 'application/json')
        .send('{"orderId":')
        .expect(400);

      expect(res.body.errors[0].code).toBe('MALFORMED_JSON');
    });

    it('answers 404 for an order it does not know', async () => {
      const res = await pay(buyer().cookie, { orderId: newId(), token: 'tok_visa' }).expect(404);

      expect(res.body.errors[0].code).toBe('ORDER_NOT_FOUND');
    });

    it("answers 404 for another user's order, exactly as for an unknown one, and charges nothing", async () => {
      const order = await buildOrder({ userId: newId() });

      const res = await pay(buyer().cookie, { orderId: order.id, token: 'tok_visa' }).expect(404);
      const unknown = await pay(buyer().cookie, { orderId: newId(), token: 'tok_visa' }).expect(404);

      expect(res.body).toEqual(unknown.body);
      expect(res.body.errors[0].code).toBe('ORDER_NOT_FOUND');
      expect(h.proxy.requests).toHaveLength(0);
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });

    it('refuses a cancelled order with 400 ORDER_CANCELLED', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id, status: OrderStatus.Cancelled, version: 1 });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(400);

      expect(res.body.errors[0].code).toBe('ORDER_CANCELLED');
      expect(h.proxy.charges()).toHaveLength(0);
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });

    it('refuses a complete order with 400 ORDER_COMPLETE', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id, status: OrderStatus.Complete, version: 1 });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(400);

      expect(res.body.errors[0].code).toBe('ORDER_COMPLETE');
      expect(h.proxy.charges()).toHaveLength(0);
    });

    it('refuses an order whose expiresAt has passed with 400 ORDER_EXPIRED, even before it is cancelled', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id, expiresAt: new Date(Date.now() - 1_000) });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(400);

      expect(res.body.errors[0].code).toBe('ORDER_EXPIRED');
      expect(h.proxy.charges()).toHaveLength(0);
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });

    it('answers a second payment of a paid order with 200 and the first payment, and charges once', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      const first = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_mastercard' }).expect(200);

      expect(res.body).toEqual({ id: first.body.id, status: 'succeeded' });
      expect(h.proxy.charges()).toHaveLength(1);
      expect(h.proxy.confirmations()).toHaveLength(1);
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(1);
    });
  });

  describe('a successful payment', () => {
    it('answers 201 with the payment id and status, and stores the payment', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id, priceCents: 2_500 });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      expect(res.body).toEqual({ id: expect.any(String), status: 'succeeded' });
      const payment = await Payment.findById(res.body.id);
      expect(payment).toMatchObject({
        orderId: order.id,
        amount: 2_500,
        currency: 'usd',
        status: PaymentStatus.Succeeded,
        stripeId: expect.stringMatching(/^pi_/),
      });
    });

    it('charges the stored price in cents and USD: one PaymentIntent, created unconfirmed, then confirmed', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id, priceCents: 1_999 });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const [charge, ...more] = h.proxy.charges();
      expect(more).toHaveLength(0);
      expect(charge!.form.get('amount')).toBe('1999');
      expect(charge!.form.get('currency')).toBe('usd');
      expect(charge!.form.get('confirm')).toBeNull();
      expect(charge!.form.get('metadata[orderId]')).toBe(order.id);
      expect(charge!.form.get('metadata[paymentId]')).toBe(res.body.id);
      const [intent, ...others] = h.proxy.intentsFor(order.id);
      expect(others).toHaveLength(0);
      expect(intent).toMatchObject({ amount: 1_999, currency: 'usd', status: 'succeeded' });
      expect(h.proxy.confirmations().map((r) => r.path)).toEqual([`/v1/payment_intents/${intent!.id}/confirm`]);
      expect((await Payment.findById(res.body.id).lean())?.stripeId).toBe(intent!.id);
    });

    it('turns a card token into a PaymentMethod and charges that', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const created = h.proxy.requests.find((r) => r.path === '/v1/payment_methods');
      expect(created?.form.get('card[token]')).toBe('tok_visa');
      expect(h.proxy.charges()[0]!.form.get('payment_method')).toMatch(/^pm_/);
    });

    it('charges a PaymentMethod id directly', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      await pay(user.cookie, { orderId: order.id, token: 'pm_card_visa' }).expect(201);

      const [intent] = h.proxy.intentsFor(order.id);
      expect(h.proxy.requests.map((r) => r.path)).toEqual([
        '/v1/payment_intents',
        `/v1/payment_intents/${intent!.id}/confirm`,
      ]);
      expect(h.proxy.charges()[0]!.form.get('payment_method')).toBe('pm_card_visa');
    });

    it('sends idempotency keys derived from the payment id, not from the card', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const paymentId = res.body.id as string;
      expect(h.proxy.requests.map((r) => r.idempotencyKey)).toEqual([
        idempotencyKey(paymentId, 'pm'),
        idempotencyKey(paymentId, 'create'),
        idempotencyKey(paymentId, 'confirm'),
      ]);
      expect(idempotencyKey(paymentId, 'create')).toBe(`payment-${paymentId}-create`);
    });

    it('publishes payment:created with the payment id, order id and Stripe id', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const event = await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.orderId === order.id);
      const payment = await Payment.findById(res.body.id).lean();
      expect(event).toEqual({ id: res.body.id, orderId: order.id, stripeId: payment!.stripeId });
      // Published, and the relay's checkpoint says so (the entry itself may stay until the next save).
      await eventually(async () => expect(await unpublishedOf(res.body.id as string)).toBe(0));
    });

    it('claims the same order whatever the case of its id', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      await pay(user.cookie, { orderId: order.id, token: 'tok_visa' }).expect(201);

      const res = await pay(user.cookie, { orderId: order.id.toUpperCase(), token: 'tok_visa' }).expect(200);

      expect(res.body.status).toBe('succeeded');
      expect(h.proxy.charges()).toHaveLength(1);
    });
  });

  describe('when Stripe fails', () => {
    it('answers 402 PAYMENT_DECLINED for a declined card, stores nothing, and lets the buyer retry', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      // Stripe's test card that is declined at confirmation (as a token: tok_chargeDeclined).
      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_chargeDeclined' }).expect(402);

      expect(res.body.errors[0]).toEqual({ code: 'PAYMENT_DECLINED', message: 'Your card was declined.' });
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
      const retry = await pay(user.cookie, { orderId: order.id, token: 'pm_card_visa' }).expect(201);
      // A new claim, so new idempotency keys: a second PaymentIntent, and only it succeeded.
      expect(h.proxy.intentsFor(order.id).map((i) => i.status)).toEqual(['requires_payment_method', 'succeeded']);
      expect(h.proxy.confirmations().at(-1)?.idempotencyKey).toBe(idempotencyKey(retry.body.id as string, 'confirm'));
    });

    it('answers 503 with a clear message when Stripe cannot be reached, and stores nothing', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      const unreachable = stripeClientFor(`http://127.0.0.1:${await freePort()}`);

      const res = await request(h.appWith(unreachable))
        .post('/api/payments')
        .set('Cookie', user.cookie)
        .send({ orderId: order.id, token: 'pm_card_visa' })
        .expect(503);

      expect(res.body.errors[0]).toEqual({
        code: 'PAYMENT_PROVIDER_UNAVAILABLE',
        message: 'The payment provider could not be reached; nothing was charged, please try again shortly',
      });
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
      // Nothing is left claimed: the buyer can pay once Stripe is back.
      await pay(user.cookie, { orderId: order.id, token: 'pm_card_visa' }).expect(201);
    });

    it('answers 503 when Stripe itself fails (5xx), and stores nothing', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      h.proxy.intercept(() => ({ status: 500, body: { error: { type: 'api_error', message: 'Stripe is down' } } }));

      const res = await pay(user.cookie, { orderId: order.id, token: 'pm_card_visa' }).expect(503);

      expect(res.body.errors[0].code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });

    it('answers 400 INVALID_PAYMENT_TOKEN for a token Stripe does not know', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      h.proxy.intercept((r) =>
        r.path === '/v1/payment_methods'
          ? {
              status: 400,
              body: {
                error: {
                  type: 'invalid_request_error',
                  code: 'resource_missing',
                  param: 'card[token]',
                  message: "No such token: 'tok_unknown'",
                },
              },
            }
          : undefined,
      );

      const res = await pay(user.cookie, { orderId: order.id, token: 'tok_unknown' }).expect(400);

      expect(res.body.errors[0]).toMatchObject({ code: 'INVALID_PAYMENT_TOKEN', field: 'token' });
      expect(h.proxy.charges()).toHaveLength(0);
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });

    it('answers 502 when Stripe refuses our key, and stores nothing', async () => {
      const user = buyer();
      const order = await buildOrder({ userId: user.id });
      h.proxy.intercept(() => ({
        status: 401,
        body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_***' } },
      }));

      const res = await pay(user.cookie, { orderId: order.id, token: 'pm_card_visa' }).expect(502);

      expect(res.body.errors[0].code).toBe('PAYMENT_PROVIDER_ERROR');
      expect(await Payment.countDocuments({ orderId: order.id })).toBe(0);
    });
  });

  describe('when the bus is down', () => {
    it('still answers 201 and publishes payment:created once the bus is back', async () => {
      const { transport, url, clusterId } = natsTestConfig();
      const downBus = createBus({
        transport,
        url,
        clusterId,
        clientId: makeClientId('test-payments-down'),
        logger: silentLogger,
        channelPrefix: testChannelPrefix(),
      });
      const relay = new OutboxRelay({ bus: downBus, models: [Payment], logger: silentLogger, retryIntervalMs: 100 });
      relay.start();
      const app = buildApp(
        { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test' },
        silentLogger,
        {},
        { stripe: h.stripe, relay, claimLeaseMs: TEST_RECONCILE.pendingAfterMs },
      );
      const user = buyer();
      const order = await buildOrder({ userId: user.id });

      try {
        const res = await request(app)
          .post('/api/payments')
          .set('Cookie', user.cookie)
          .send({ orderId: order.id, token: 'pm_card_visa' })
          .expect(201);
        expect(await unpublishedOf(res.body.id as string)).toBe(1);

        await downBus.connect();

        await h.probe.waitFor(Subjects.PaymentCreated, (e) => e.id === res.body.id);
        await eventually(async () => expect(await unpublishedOf(res.body.id as string)).toBe(0));
      } finally {
        await relay.stop();
        await downBus.close();
      }
    });
  });
});
