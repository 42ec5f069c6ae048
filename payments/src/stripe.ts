import { Histogram, LATENCY_BUCKETS, metricsRegistry } from '@ticketing/common';
import Stripe from 'stripe';
import type { PaymentsConfig } from './config';

export type StripeClientConfig = Pick<
  PaymentsConfig,
  'STRIPE_KEY' | 'STRIPE_API_BASE' | 'STRIPE_MAX_NETWORK_RETRIES' | 'STRIPE_TIMEOUT_MS'
>;

/**
 * The Stripe client. STRIPE_API_BASE, when set, becomes the client's host, port and protocol: the
 * same code talks to api.stripe.com in production and to stripe-mock in tests and `npm start`.
 */
export function createStripeClient(config: StripeClientConfig): Stripe {
  return new Stripe(config.STRIPE_KEY, {
    ...apiBaseOptions(config.STRIPE_API_BASE),
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    timeout: config.STRIPE_TIMEOUT_MS,
    telemetry: false,
    httpClient: measured(Stripe.createNodeHttpClient()),
  });
}

export const stripeRequestDuration = new Histogram({
  name: 'stripe_request_duration_seconds',
  help:
    'Calls to the Stripe API, each attempt of the client (its retries included), by method, endpoint ' +
    '(ids replaced by :id) and outcome: ok (2xx), declined (402), rejected (other 4xx), error (5xx), network',
  labelNames: ['method', 'endpoint', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** /v1/payment_intents/pi_123/confirm?x=1 → /v1/payment_intents/:id/confirm */
export function endpointOf(path: string): string {
  const bare = path.split('?', 1)[0] ?? '';
  return bare
    .split('/')
    .map((segment) => (/^[a-z]{2,8}_[A-Za-z0-9]{8,}$/.test(segment) ? ':id' : segment))
    .join('/');
}

function outcomeOf(status: number): string {
  if (status < 400) return 'ok';
  if (status === 402) return 'declined';
  if (status < 500) return 'rejected';
  return 'error';
}

/**
 * The one place every Stripe call goes through, whatever code makes it: the client's HTTP layer,
 * timed per attempt. Wrapping the transport rather than each call site keeps the payment flow
 * itself free of metrics code.
 */
function measured(inner: Stripe.HttpClient): Stripe.HttpClient {
  return {
    getClientName: () => inner.getClientName(),
    makeRequest: async (host, port, path, method, headers, requestData, protocol, timeout) => {
      const end = stripeRequestDuration.startTimer({ method, endpoint: endpointOf(path) });
      try {
        const res = await inner.makeRequest(host, port, path, method, headers, requestData, protocol, timeout);
        end({ outcome: outcomeOf(res.getStatusCode()) });
        return res;
      } catch (err) {
        end({ outcome: 'network' });
        throw err;
      }
    },
  };
}

export function apiBaseOptions(apiBase: string | undefined): {
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
} {
  if (apiBase === undefined) return {};
  const parsed = new URL(apiBase);
  const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
  const port = parsed.port === '' ? (protocol === 'http' ? 80 : 443) : Number(parsed.port);
  return { host: parsed.hostname, port, protocol };
}
