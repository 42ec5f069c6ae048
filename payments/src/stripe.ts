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
  });
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
