import { ConfigError } from '@ticketing/common';
import { TEST_JWT_KEY, natsTestConfig, testStripeUrl } from '@ticketing/common/testing';
import request from 'supertest';
import { loadPaymentsConfig } from '../config';
import { apiBaseOptions, createStripeClient } from '../stripe';
import { startPayments, type PaymentsHarness } from './harness';

const validEnv = (): NodeJS.ProcessEnv => ({
  NATS_URL: natsTestConfig().url,
  MONGO_URI: 'mongodb://127.0.0.1:27017/payments',
  JWT_KEY: TEST_JWT_KEY,
  STRIPE_KEY: 'sk_test_123',
});

describe('config', () => {
  it('lists every missing variable at once, STRIPE_KEY included', () => {
    try {
      loadPaymentsConfig({});
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual(
        expect.arrayContaining(
          ['NATS_URL', 'MONGO_URI', 'JWT_KEY', 'STRIPE_KEY'].map((name) =>
            expect.stringMatching(new RegExp(`^${name}`)),
          ),
        ),
      );
    }
  });

  it('leaves STRIPE_API_BASE unset by default (the real Stripe API)', () => {
    const config = loadPaymentsConfig(validEnv());

    expect(config.STRIPE_API_BASE).toBeUndefined();
    expect(apiBaseOptions(config.STRIPE_API_BASE)).toEqual({});
  });

  it('rejects a STRIPE_API_BASE that is not an http(s) URL', () => {
    expect(() => loadPaymentsConfig({ ...validEnv(), STRIPE_API_BASE: 'ftp://stripe' })).toThrow(/STRIPE_API_BASE/);
  });

  it('maps STRIPE_API_BASE to the Stripe client host, port and protocol', () => {
    expect(apiBaseOptions('http://127.0.0.1:12111')).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' });
    expect(apiBaseOptions('https://stripe.internal')).toEqual({
      host: 'stripe.internal',
      port: 443,
      protocol: 'https',
    });
  });

  it('builds a client that reaches stripe-mock from config alone', async () => {
    const config = loadPaymentsConfig({ ...validEnv(), STRIPE_API_BASE: testStripeUrl() });
    const stripe = createStripeClient(config);

    const intent = await stripe.paymentIntents.create({ amount: 1999, currency: 'usd' });

    expect(intent.amount).toBe(1999);
  });
});

describe('health routes', () => {
  let h: PaymentsHarness;

  beforeAll(async () => {
    h = await startPayments('app-config', { listeners: false });
  });

  afterAll(async () => {
    await h.close();
  });

  it('GET /readyz answers 200 when Mongo and the bus are connected', async () => {
    const res = await request(h.app).get('/readyz').expect(200);

    expect(res.body.checks).toEqual({ mongo: true, bus: true });
  });

  it('GET /healthz answers 200', async () => {
    await request(h.app).get('/healthz').expect(200);
  });
});
