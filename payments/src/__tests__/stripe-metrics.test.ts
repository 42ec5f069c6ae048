import { freePort } from '@ticketing/devinfra';
import { testStripeUrl } from '@ticketing/common/testing';
import { metricsRegistry, parseMetrics, sumMetric } from '@ticketing/common';
import { endpointOf } from '../stripe';
import { stripeClientFor } from './harness';

/** Every call of the Stripe client is timed with its outcome, whichever code makes it. */

async function count(labels: Record<string, string>): Promise<number> {
  return sumMetric(parseMetrics(await metricsRegistry.metrics()), 'stripe_request_duration_seconds_count', labels);
}

describe('stripe_request_duration_seconds', () => {
  it('counts a call Stripe accepts as ok and one it refuses as rejected, by endpoint', async () => {
    const stripe = stripeClientFor(testStripeUrl());
    const endpoint = { method: 'POST', endpoint: '/v1/payment_intents' };
    const [okBefore, rejectedBefore] = [
      await count({ ...endpoint, outcome: 'ok' }),
      await count({ ...endpoint, outcome: 'rejected' }),
    ];

    await stripe.paymentIntents.create({ amount: 1999, currency: 'usd' });
    // stripe-mock validates parameters as Stripe does: no amount is a 400.
    await expect(stripe.paymentIntents.create({ currency: 'usd' } as never)).rejects.toThrow();

    expect(await count({ ...endpoint, outcome: 'ok' })).toBe(okBefore + 1);
    expect(await count({ ...endpoint, outcome: 'rejected' })).toBe(rejectedBefore + 1);
  });

  it('counts a call that never got an answer as network', async () => {
    const stripe = stripeClientFor(`http://127.0.0.1:${await freePort()}`);
    const labels = { method: 'GET', endpoint: '/v1/payment_intents/:id', outcome: 'network' };
    const before = await count(labels);

    await expect(stripe.paymentIntents.retrieve('pi_3MtwBwLkdIwHu7ix28a3tqPa')).rejects.toThrow();

    expect(await count(labels)).toBe(before + 1);
  });

  it('replaces ids in paths, keeping resource names', () => {
    expect(endpointOf('/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm?expand=x')).toBe(
      '/v1/payment_intents/:id/confirm',
    );
    expect(endpointOf('/v1/refunds')).toBe('/v1/refunds');
    expect(endpointOf('/v1/payment_methods/pm_1Q0PsIJvEtkwdCNYMSaVuRz6')).toBe('/v1/payment_methods/:id');
  });
});
