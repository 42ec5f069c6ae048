import type { Logger } from '@ticketing/common';
import Stripe from 'stripe';

/**
 * The Stripe calls of a payment, each answering a typed result instead of throwing, so the caller
 * decides per step what a failure means for the money (services/pay-order.ts, reconciler.ts).
 *
 * Every call that changes something carries an idempotency key derived from the payment claim's id
 * (`payment-<paymentId>-<step>`), never from the card token: a request retried with the same key (the
 * Stripe client's own network retries, a reconciler asking again) gets Stripe's first answer instead
 * of a second PaymentIntent or a second confirmation. A new claim (after a decline released the
 * previous one) has a new id, hence new keys, so the buyer can pay with another card.
 */

export type StripeFailure =
  /** A card error: Stripe processed the request and refused the card; nothing was charged. */
  | { kind: 'declined'; message: string; code: string | undefined }
  /** The token or PaymentMethod does not exist (or is not usable): not processed. */
  | { kind: 'invalid-token'; message: string }
  /** Stripe refused the request itself (our key, a parameter, the intent's state): not processed. */
  | { kind: 'refused'; message: string; code: string | undefined }
  /** No usable answer (a timeout, a reset, a 5xx, a rate limit): the request may have taken effect. */
  | { kind: 'unreachable'; message: string };

export type StripeResult<T> = { ok: true; value: T } | ({ ok: false } & StripeFailure);

export type Intent = Stripe.PaymentIntent;

export const idempotencyKey = (paymentId: string, step: 'pm' | 'create' | 'confirm' | 'cancel'): string =>
  `payment-${paymentId}-${step}`;

const TOKEN_PARAMS = /^(payment_method|card\[token\]|token|source)$/;

/** Runs one Stripe call and sorts its failure into what it means for the money. */
async function attempt<T>(call: () => Promise<T>, logger: Logger, what: string): Promise<StripeResult<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeError)) {
      // Not an answer from Stripe (a bug of ours or of the client): nothing tells what Stripe did.
      logger.error({ err }, `Stripe ${what}: unexpected failure`);
      return { ok: false, kind: 'unreachable', message: String(err) };
    }
    const log = { err, requestId: err.requestId, code: err.code };
    switch (err.type) {
      case 'StripeCardError':
        return { ok: false, kind: 'declined', message: err.message || 'The card was declined', code: err.code };
      case 'StripeInvalidRequestError':
        if (err.param !== undefined && TOKEN_PARAMS.test(err.param) && err.code !== 'payment_intent_unexpected_state') {
          return { ok: false, kind: 'invalid-token', message: err.message };
        }
        logger.error(log, `Stripe ${what}: refused`);
        return { ok: false, kind: 'refused', message: err.message, code: err.code };
      case 'StripeConnectionError':
      case 'StripeAPIError':
      case 'StripeRateLimitError':
        logger.warn(log, `Stripe ${what}: no usable answer`);
        return { ok: false, kind: 'unreachable', message: err.message };
      default:
        // Authentication, permission, idempotency errors: our configuration, not the buyer's card.
        logger.error(log, `Stripe ${what}: refused`);
        return { ok: false, kind: 'refused', message: err.message, code: err.code };
    }
  }
}

/** A card token from Stripe.js (tok_...) becomes a PaymentMethod; a PaymentMethod id is used as it is. */
export function paymentMethodFor(
  stripe: Stripe,
  token: string,
  paymentId: string,
  logger: Logger,
): Promise<StripeResult<string>> {
  if (!token.startsWith('tok_')) return Promise.resolve({ ok: true, value: token });
  return attempt(
    async () =>
      (
        await stripe.paymentMethods.create(
          { type: 'card', card: { token } },
          { idempotencyKey: idempotencyKey(paymentId, 'pm') },
        )
      ).id,
    logger,
    'payment method',
  );
}

export interface IntentRequest {
  paymentId: string;
  orderId: string;
  /** Integer cents. */
  amount: number;
  currency: 'usd';
  paymentMethod: string;
}

/** Creates the PaymentIntent unconfirmed: it charges nothing until confirmIntent. */
export function createIntent(stripe: Stripe, request: IntentRequest, logger: Logger): Promise<StripeResult<Intent>> {
  return attempt(
    () =>
      stripe.paymentIntents.create(
        {
          amount: request.amount,
          currency: request.currency,
          payment_method: request.paymentMethod,
          // Cards only, no redirect: a token-based API cannot send the buyer to a bank's page.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          description: `Ticketing order ${request.orderId}`,
          metadata: { orderId: request.orderId, paymentId: request.paymentId },
        },
        { idempotencyKey: idempotencyKey(request.paymentId, 'create') },
      ),
    logger,
    'create PaymentIntent',
  );
}

export function confirmIntent(
  stripe: Stripe,
  intentId: string,
  paymentId: string,
  logger: Logger,
): Promise<StripeResult<Intent>> {
  return attempt(
    () => stripe.paymentIntents.confirm(intentId, {}, { idempotencyKey: idempotencyKey(paymentId, 'confirm') }),
    logger,
    'confirm PaymentIntent',
  );
}

export function cancelIntent(
  stripe: Stripe,
  intentId: string,
  paymentId: string,
  logger: Logger,
): Promise<StripeResult<Intent>> {
  return attempt(
    () =>
      stripe.paymentIntents.cancel(
        intentId,
        { cancellation_reason: 'abandoned' },
        { idempotencyKey: idempotencyKey(paymentId, 'cancel') },
      ),
    logger,
    'cancel PaymentIntent',
  );
}

export function retrieveIntent(stripe: Stripe, intentId: string, logger: Logger): Promise<StripeResult<Intent>> {
  return attempt(() => stripe.paymentIntents.retrieve(intentId), logger, 'retrieve PaymentIntent');
}

/** How far around a claim's creation its PaymentIntent can have been created (clock skew, slow steps). */
const FIND_WINDOW_S = { before: 10 * 60, after: 60 * 60 };

/**
 * The PaymentIntent of a claim whose intent id was never stored (the process died between Stripe's
 * answer to the create and the save): listed by creation time around the claim's, and recognised by
 * its metadata. A list, not the search API: search lags behind by up to a minute, a list does not.
 */
export function findIntent(
  stripe: Stripe,
  claim: { paymentId: string; orderId: string; createdAt: Date },
  logger: Logger,
): Promise<StripeResult<Intent | undefined>> {
  const created = Math.floor(claim.createdAt.getTime() / 1000);
  return attempt(
    async () => {
      const found: Intent[] = [];
      const list = stripe.paymentIntents.list({
        created: { gte: created - FIND_WINDOW_S.before, lte: created + FIND_WINDOW_S.after },
        limit: 100,
      });
      for await (const intent of list) {
        if (intent.metadata['orderId'] !== claim.orderId) continue;
        // Written before paymentId was part of the metadata: the order id alone names it.
        const paymentId = intent.metadata['paymentId'];
        if (paymentId === undefined || paymentId === claim.paymentId) found.push(intent);
      }
      // A succeeded one first: that is the one that must be recorded.
      return found.find((intent) => intent.status === 'succeeded') ?? found[0];
    },
    logger,
    'list PaymentIntents',
  );
}

/** Refunds a charge in full; the key makes a second refund of the same payment a no-op at Stripe. */
export async function refundCharge(stripe: Stripe, stripeId: string, orderId: string): Promise<string> {
  const refund = await stripe.refunds.create(
    { payment_intent: stripeId, reason: 'requested_by_customer', metadata: { orderId } },
    { idempotencyKey: `refund-${stripeId}` },
  );
  return refund.id;
}
