/**
 * The vocabulary of the Stripe test-mode front (stripe-test-mode.ts): the requests it saw, the
 * PaymentIntents it keeps, the faults a test can inject, and Stripe's error answers.
 */

/** One request that reached the front, as Stripe would have received it. */
export interface SeenRequest {
  method: string;
  /** Without the query string. */
  path: string;
  /** The form-encoded body (or the query string of a GET), decoded: `form.get('amount')`. */
  form: URLSearchParams;
  idempotencyKey: string | undefined;
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

/** A PaymentIntent as this front keeps it: stripe-mock's object with the fields a service reads. */
export interface StoredIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: PaymentIntentStatus;
  metadata: Record<string, string>;
  payment_method: string | null;
  created: number;
  [field: string]: unknown;
}

/** What happens to the answer of a request that took effect (see `failAnswers`). */
export type AnswerFault =
  /** The connection is reset instead of answered: a reset after the request was sent. */
  | { kind: 'drop' }
  /** The answer leaves `ms` later (longer than the client's timeout: a timeout). */
  | { kind: 'delay'; ms: number }
  /** A 500 api_error although the request took effect. */
  | { kind: 'server-error' }
  /** `run` is awaited before the answer is sent (to kill the caller at that moment, say). */
  | { kind: 'hook'; run: () => Promise<void> | void };

export type RequestMatch = (req: SeenRequest) => boolean;

/** Request predicates for `failAnswers`, `hold` and friends. */
export const stripeCalls = {
  createIntent: (req: SeenRequest): boolean => req.method === 'POST' && req.path === '/v1/payment_intents',
  confirmIntent: (req: SeenRequest): boolean =>
    req.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(req.path),
  cancelIntent: (req: SeenRequest): boolean =>
    req.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/cancel$/.test(req.path),
  retrieveIntent: (req: SeenRequest): boolean =>
    req.method === 'GET' && /^\/v1\/payment_intents\/[^/]+$/.test(req.path) && !req.path.endsWith('/search'),
  listIntents: (req: SeenRequest): boolean => req.method === 'GET' && req.path === '/v1/payment_intents',
  refund: (req: SeenRequest): boolean => req.method === 'POST' && req.path === '/v1/refunds',
};

export interface Answer {
  status: number;
  body: unknown;
}

/** An intent as Stripe shows it (without the front's own ordering field). */
export function publicIntent(intent: StoredIntent): StoredIntent {
  const copy = structuredClone(intent);
  delete copy['_sequence'];
  return copy;
}

export function invalid(message: string, param?: string, type = 'invalid_request_error', code?: string): Answer {
  return {
    status: 400,
    body: {
      error: { type, message, ...(param === undefined ? {} : { param }), ...(code === undefined ? {} : { code }) },
    },
  };
}

export function missing(id: string): Answer {
  return {
    status: 404,
    body: {
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'intent',
        message: `No such payment_intent: '${id}'`,
      },
    },
  };
}

export function unexpectedState(intent: StoredIntent, action: string): Answer {
  return {
    status: 400,
    body: {
      error: {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `You cannot ${action} this PaymentIntent because it has a status of ${intent.status}.`,
        payment_intent: publicIntent(intent),
      },
    },
  };
}

/** What the real Stripe answers for a declined card. */
export function cardDeclined(): FakeResponse {
  return {
    status: 402,
    body: {
      error: {
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'generic_decline',
        message: 'Your card was declined.',
        param: '',
      },
    },
  };
}
