import { createHash } from 'node:crypto';
import { BadRequestError, ServiceUnavailableError, type Logger } from '@ticketing/common';
import Stripe from 'stripe';
import { PaymentDeclinedError, PaymentProviderError } from '../errors';

export interface ChargeRequest {
  orderId: string;
  /** Integer cents. */
  amount: number;
  currency: 'usd';
  /** A card token from Stripe.js / Elements (tok_...) or a PaymentMethod id (pm_...). */
  token: string;
}

export interface Charge {
  stripeId: string;
  stripeStatus: string;
}

/**
 * Stripe's idempotency key for a payment of this order with this card. Derived from the order id, so
 * the same request sent twice (a client retrying after a timeout, our own network retries) gets
 * Stripe's first answer back instead of a second charge; the token is part of it so that a buyer
 * whose card was declined can pay with another card (Stripe refuses a key reused with other
 * parameters).
 */
export function idempotencyKeyFor(orderId: string, token: string): string {
  const card = createHash('sha256').update(token).digest('hex').slice(0, 16);
  return `order-${orderId}-${card}`;
}

/**
 * Charges the card with a PaymentIntent confirmed at once. A legacy card token is first turned into
 * a PaymentMethod (the form both the real API and stripe-mock accept; PaymentIntents take no raw
 * token). Every Stripe failure becomes an AppError the client can act on.
 */
export async function chargeCard(stripe: Stripe, request: ChargeRequest, logger: Logger): Promise<Charge> {
  const key = idempotencyKeyFor(request.orderId, request.token);
  let intent: Stripe.PaymentIntent;
  try {
    const paymentMethod = request.token.startsWith('tok_')
      ? (
          await stripe.paymentMethods.create(
            { type: 'card', card: { token: request.token } },
            { idempotencyKey: `${key}-pm` },
          )
        ).id
      : request.token;
    intent = await stripe.paymentIntents.create(
      {
        amount: request.amount,
        currency: request.currency,
        payment_method: paymentMethod,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        confirm: true,
        error_on_requires_action: true,
        description: `Ticketing order ${request.orderId}`,
        metadata: { orderId: request.orderId },
      },
      { idempotencyKey: `${key}-pi` },
    );
  } catch (err) {
    throw toPaymentError(err, logger);
  }
  // Confirmed at once, the PaymentIntent either comes back succeeded (or processing) or the request
  // fails with a card error, caught above; error_on_requires_action turns "needs 3-D Secure" (which
  // a token-based API cannot run in the buyer's browser) into such an error too. The status is
  // recorded but not checked: stripe-mock, which tests and `npm start` use, answers every
  // PaymentIntent from one fixture (status requires_payment_method).
  return { stripeId: intent.id, stripeStatus: intent.status };
}

/** Refunds a charge in full; the key makes a second refund of the same payment a no-op at Stripe. */
export async function refundCharge(stripe: Stripe, stripeId: string, orderId: string): Promise<string> {
  const refund = await stripe.refunds.create(
    { payment_intent: stripeId, reason: 'requested_by_customer', metadata: { orderId } },
    { idempotencyKey: `refund-${stripeId}` },
  );
  return refund.id;
}

const TOKEN_PARAMS = /^(payment_method|card\[token\]|token|source)$/;

function toPaymentError(err: unknown, logger: Logger): unknown {
  if (!(err instanceof Stripe.errors.StripeError)) return err;
  switch (err.type) {
    case 'StripeCardError':
      return new PaymentDeclinedError(err.message || 'The card was declined', 'PAYMENT_DECLINED');
    case 'StripeInvalidRequestError':
      if (err.param !== undefined && TOKEN_PARAMS.test(err.param)) {
        return new BadRequestError(`The card token was refused: ${err.message}`, 'INVALID_PAYMENT_TOKEN', 'token');
      }
      logger.error({ err, requestId: err.requestId }, 'Stripe refused the payment request');
      return new PaymentProviderError();
    case 'StripeConnectionError':
    case 'StripeAPIError':
    case 'StripeRateLimitError':
      logger.warn({ err, requestId: err.requestId }, 'Stripe unreachable');
      return new ServiceUnavailableError(
        'The payment provider could not be reached; no payment was recorded, please try again shortly',
        'PAYMENT_PROVIDER_UNAVAILABLE',
      );
    default:
      // Authentication, permission, idempotency errors: our configuration, not the buyer's card.
      logger.error({ err, requestId: err.requestId }, 'Stripe refused the payment request');
      return new PaymentProviderError();
  }
}
