import {
  busConfigSpec,
  httpConfigSpec,
  int,
  jwtConfigSpec,
  loadConfig,
  mongoConfigSpec,
  str,
  url,
  type ConfigOf,
  type VarSpec,
} from '@ticketing/common';

/** An optional http(s) URL: unset means "the real Stripe API". */
function optionalHttpUrl(): VarSpec<string | undefined> {
  const spec = url({ protocols: ['http', 'https'] });
  return {
    parse(raw, name) {
      if (raw === undefined || raw === '') return { value: undefined };
      return spec.parse(raw, name);
    },
  };
}

export const paymentsConfigSpec = {
  ...httpConfigSpec,
  ...mongoConfigSpec,
  ...jwtConfigSpec,
  ...busConfigSpec,
  /** Stripe secret key (sk_test_... or sk_live_...). */
  STRIPE_KEY: str({ minLength: 8 }),
  /** Where the Stripe API is; tests and `npm start` point it at stripe-mock (http://127.0.0.1:PORT). */
  STRIPE_API_BASE: optionalHttpUrl(),
  /** The Stripe client's own retries of a request that failed on the network (same idempotency key). */
  STRIPE_MAX_NETWORK_RETRIES: int({ default: 2, min: 0, max: 10 }),
  STRIPE_TIMEOUT_MS: int({ default: 20_000, min: 100 }),
  /** Time between the reconciler's passes over unknown and stale pending payments. */
  RECONCILE_INTERVAL_MS: int({ default: 10_000, min: 50 }),
  /** How long a payment request holds its claim; a claim still pending after that is settled by the reconciler. */
  RECONCILE_PENDING_AFTER_MS: int({ default: 30_000, min: 100 }),
  /** How long a reconciler pass holds a claim it works on (another replica may take it after). */
  RECONCILE_LEASE_MS: int({ default: 120_000, min: 100 }),
};

export type PaymentsConfig = ConfigOf<typeof paymentsConfigSpec>;

export function loadPaymentsConfig(env: NodeJS.ProcessEnv = process.env): PaymentsConfig {
  return loadConfig(paymentsConfigSpec, env);
}
