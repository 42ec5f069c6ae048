import { startStripeTestMode, stripeCalls, type StripeTestMode } from './stripe-test-mode';
import { testStripeMockUrl, testStripeUrl } from '@ticketing/common/testing';

/**
 * Stripe's test mode in front of stripe-mock, spoken to as the Stripe client does (form bodies,
 * Bearer key, Idempotency-Key): what the payments tests rely on it for.
 */

let front: StripeTestMode;

beforeAll(async () => {
  front = await startStripeTestMode(testStripeMockUrl());
});

afterAll(async () => {
  await front.stop();
});

beforeEach(() => front.reset());

async function stripe(
  method: 'GET' | 'POST',
  path: string,
  params: Record<string, string> = {},
  key?: string,
  base = front.url,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams(params).toString();
  const url = method === 'GET' && form !== '' ? `${base}${path}?${form}` : `${base}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      authorization: 'Bearer sk_test_123',
      'content-type': 'application/x-www-form-urlencoded',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    ...(method === 'POST' ? { body: form } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const create = (orderId: string, key?: string, paymentMethod = 'pm_card_visa') =>
  stripe(
    'POST',
    '/v1/payment_intents',
    { amount: '1999', currency: 'usd', payment_method: paymentMethod, 'metadata[orderId]': orderId },
    key,
  );

describe('Stripe test mode', () => {
  it('keeps a PaymentIntent: created unconfirmed, confirmed to succeeded, retrieved and listed as it is', async () => {
    const created = await create('order-1');
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      status: 'requires_confirmation',
      amount: 1999,
      metadata: { orderId: 'order-1' },
    });
    const id = created.body['id'] as string;

    const confirmed = await stripe('POST', `/v1/payment_intents/${id}/confirm`);
    expect(confirmed.body).toMatchObject({ id, status: 'succeeded', amount_received: 1999 });

    expect((await stripe('GET', `/v1/payment_intents/${id}`)).body).toMatchObject({ id, status: 'succeeded' });
    const listed = await stripe('GET', '/v1/payment_intents', { limit: '100' });
    expect((listed.body['data'] as Array<{ id: string }>).map((i) => i.id)).toContain(id);
    expect((await stripe('POST', `/v1/payment_intents/${id}/confirm`)).body).toMatchObject({
      error: { code: 'payment_intent_unexpected_state' },
    });
  });

  it('replays the first answer for a repeated idempotency key, and refuses the key with other parameters', async () => {
    const first = await create('order-2', 'key-2');
    const again = await create('order-2', 'key-2');
    const other = await create('order-other', 'key-2');

    expect(again.body['id']).toBe(first.body['id']);
    expect(front.intentsFor('order-2')).toHaveLength(1);
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ error: { type: 'idempotency_error' } });
  });

  it("declines Stripe's chargeDeclined test card at confirmation", async () => {
    const id = (await create('order-3', undefined, 'pm_card_chargeDeclined')).body['id'] as string;

    const confirmed = await stripe('POST', `/v1/payment_intents/${id}/confirm`);

    expect(confirmed.status).toBe(402);
    expect(confirmed.body).toMatchObject({ error: { type: 'card_error', code: 'card_declined' } });
    expect(front.intentsFor('order-3').map((i) => i.status)).toEqual(['requires_payment_method']);
  });

  it('loses an answer after the request took effect, and settles an intent to another status', async () => {
    const id = (await create('order-4')).body['id'] as string;
    front.onConfirm(() => 'processing');
    front.failAnswers(stripeCalls.confirmIntent, { kind: 'drop' });

    await expect(stripe('POST', `/v1/payment_intents/${id}/confirm`)).rejects.toThrow();

    expect(front.intentsFor('order-4').map((i) => i.status)).toEqual(['processing']);
    front.settle(id, 'succeeded');
    expect((await stripe('GET', `/v1/payment_intents/${id}`)).body).toMatchObject({ status: 'succeeded' });
  });

  it('refunds only a succeeded intent, once', async () => {
    const id = (await create('order-5')).body['id'] as string;
    expect((await stripe('POST', '/v1/refunds', { payment_intent: id })).status).toBe(400);
    await stripe('POST', `/v1/payment_intents/${id}/confirm`);

    expect((await stripe('POST', '/v1/refunds', { payment_intent: id })).body).toMatchObject({ payment_intent: id });
    expect((await stripe('POST', '/v1/refunds', { payment_intent: id })).body).toMatchObject({
      error: { code: 'charge_already_refunded' },
    });
  });

  it('is what TEST_STRIPE_URL names for the whole run, in front of stripe-mock', async () => {
    const base = testStripeUrl();
    const created = await stripe('POST', '/v1/payment_intents', { amount: '500', currency: 'usd' }, undefined, base);
    const id = created.body['id'] as string;

    expect((await stripe('GET', `/v1/payment_intents/${id}`, {}, undefined, base)).body).toMatchObject({
      id,
      amount: 500,
      status: 'requires_payment_method',
    });
    expect(base).not.toBe(testStripeMockUrl());
  });
});
