import {
  BadRequestError,
  NotFoundError,
  OrderStatus,
  ServiceUnavailableError,
  assertNever,
  isDuplicateKeyError,
  type Logger,
  type OutboxRelay,
} from '@ticketing/common';
import type Stripe from 'stripe';
import { PaymentProviderError } from '../errors';
import { Order, type OrderDoc } from '../models/order';
import { Payment, PaymentStatus, type PaymentDoc } from '../models/payment';
import { confirmIntent, createIntent, paymentMethodFor, type StripeFailure } from './charge';
import { markUnknown, release, saveClaim } from './claim';
import { settleWithIntent, type Settled } from './settle';

export interface PaymentDeps {
  stripe: Stripe;
  relay: OutboxRelay;
  logger: Logger;
  /**
   * How long a request holds the claim it made (RECONCILE_PENDING_AFTER_MS): past that, a claim
   * still pending is taken as left by a dead process, and the reconciler settles it.
   */
  claimLeaseMs: number;
}

export interface PayOrderInput {
  userId: string;
  orderId: string;
  token: string;
}

/** What a payment request came to; routes/new-payment.ts turns each into its HTTP answer. */
export type PayOrderOutcome =
  /** This request charged the order. */
  | { kind: 'paid'; paymentId: string }
  /** An earlier attempt paid it; nothing was charged now. */
  | { kind: 'already-paid'; paymentId: string }
  /** A payment of the order is under way or its outcome is being confirmed; nothing new was charged. */
  | { kind: 'pending'; paymentId: string }
  | { kind: 'declined'; message: string }
  | { kind: 'not-completed'; message: string }
  /** Charged, but the order was cancelled meanwhile: refunded (or to be refunded). */
  | { kind: 'cancelled-meanwhile'; refunded: boolean };

/** Refuses an order that cannot take a payment now, each reason with its own code. */
function assertPayable(order: OrderDoc, now: number): void {
  switch (order.status) {
    case OrderStatus.Cancelled:
      throw new BadRequestError('This order has been cancelled and cannot be paid', 'ORDER_CANCELLED');
    case OrderStatus.Complete:
      throw new BadRequestError('This order is already complete', 'ORDER_COMPLETE');
    case OrderStatus.Created:
    case OrderStatus.AwaitingPayment:
      break;
    default:
      assertNever(order.status);
  }
  if (order.expiresAt.getTime() <= now) {
    throw new BadRequestError('This order has expired and can no longer be paid', 'ORDER_EXPIRED');
  }
}

type Claim = { kind: 'new'; payment: PaymentDoc } | { kind: 'existing'; payment: PaymentDoc };

/**
 * Inserts the pending payment that reserves the order; the unique orderId index lets one request
 * win. A loser gets the claim that won instead. No "already paid?" read first: the insert answers it
 * (and where filters are not indexed, see ServerProfile, a query by orderId scans the whole
 * collection, so it runs only on a conflict).
 */
async function claim(order: OrderDoc, leaseMs: number): Promise<Claim> {
  const orderId = order._id.toHexString();
  // A claim found gone was released meanwhile (its payment declined): try again.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const payment = await Payment.create({
        orderId,
        amount: order.priceCents,
        currency: 'usd',
        status: PaymentStatus.Pending,
        leaseUntil: new Date(Date.now() + leaseMs),
      });
      return { kind: 'new', payment };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const existing = await Payment.findOne({ orderId });
    if (existing !== null) return { kind: 'existing', payment: existing };
  }
  throw new ServiceUnavailableError(
    'Another payment of this order is starting; please try again',
    'PAYMENT_IN_PROGRESS',
  );
}

/** The answer for an order that already has a payment: the first attempt's outcome, or "pending". */
function outcomeOfExisting(payment: PaymentDoc): PayOrderOutcome {
  const paymentId = payment._id.toHexString();
  switch (payment.status) {
    case PaymentStatus.Pending:
    case PaymentStatus.Unknown:
      return { kind: 'pending', paymentId };
    case PaymentStatus.Succeeded:
      return { kind: 'already-paid', paymentId };
    case PaymentStatus.Refunded:
      throw new BadRequestError('This order was cancelled and its payment refunded', 'ORDER_CANCELLED');
    default:
      return assertNever(payment.status);
  }
}

/**
 * POST /api/payments, past validation. The order is claimed first (a pending payment, unique per
 * order), so of concurrent attempts exactly one reaches Stripe; the others get its outcome. The
 * claim then charges in two steps: the PaymentIntent is created unconfirmed (no charge), its id is
 * stored on the claim, and only then is it confirmed. So a claim without an intent id was never
 * charged, and one with an id can always be settled by asking Stripe about that intent.
 *
 * A failure before the confirmation releases the claim (nothing can have been charged). A
 * confirmation without a usable answer keeps the claim, marked unknown, and answers "pending": the
 * reconciler asks Stripe and settles it, and until then no other attempt charges the order.
 */
export async function payOrder(deps: PaymentDeps, input: PayOrderInput): Promise<PayOrderOutcome> {
  const order = await Order.findById(input.orderId);
  // Another user's order answers as an unknown one: nobody learns that it exists.
  if (order === null || order.userId !== input.userId) throw new NotFoundError('Order not found', 'ORDER_NOT_FOUND');
  assertPayable(order, Date.now());

  const claimed = await claim(order, deps.claimLeaseMs);
  if (claimed.kind === 'existing') return outcomeOfExisting(claimed.payment);
  return charge(deps, claimed.payment, input.token);
}

async function charge(deps: PaymentDeps, payment: PaymentDoc, token: string): Promise<PayOrderOutcome> {
  const paymentId = payment._id.toHexString();
  const { stripe, logger } = deps;
  const method = await paymentMethodFor(stripe, token, paymentId, logger);
  if (!method.ok) return failedWithoutCharge(deps, payment, method);
  const created = await createIntent(
    stripe,
    {
      paymentId,
      orderId: payment.orderId,
      amount: payment.amount,
      currency: payment.currency,
      paymentMethod: method.value,
    },
    logger,
  );
  if (!created.ok) return failedWithoutCharge(deps, payment, created);

  const intent = created.value;
  let stored: boolean;
  try {
    stored = await saveClaim(payment, (p) =>
      p.set({ stripeId: intent.id, stripeStatus: intent.status, leaseUntil: new Date(Date.now() + deps.claimLeaseMs) }),
    );
  } catch (err) {
    // Not confirmed, so not charged: free the order again (or the reconciler will, finding no charge).
    await release(payment).catch(() => false);
    throw err;
  }
  // Our lease ran out and a reconciler holds the claim: it settles it (the intent is not confirmed).
  if (!stored) return { kind: 'pending', paymentId };

  const confirmed = await confirmIntent(stripe, intent.id, paymentId, logger);
  if (!confirmed.ok) {
    switch (confirmed.kind) {
      case 'unreachable':
      case 'refused':
        // The confirmation may have charged the card (or, refused, left an intent in a state we did
        // not expect): keep the claim; the reconciler asks Stripe what the intent became. Should
        // even this save fail, the claim stays pending and is the reconciler's once its lease ends.
        await markUnknown(payment).catch((err: unknown) =>
          logger.error({ err, paymentId, stripeId: intent.id }, 'could not mark the payment unknown'),
        );
        return { kind: 'pending', paymentId };
      case 'declined':
      case 'invalid-token':
        // Processed and refused: the intent is back to requires_payment_method, nothing charged.
        return failedWithoutCharge(deps, payment, confirmed);
      default:
        return assertNever(confirmed);
    }
  }

  let settled: Settled;
  try {
    settled = await settleWithIntent(deps, payment, confirmed.value);
  } catch (err) {
    // Stripe answered but the claim could not be updated (the database failed): the claim stays
    // pending with the intent id, and the reconciler records the outcome once its lease runs out.
    logger.error({ err, orderId: payment.orderId, paymentId, stripeId: intent.id }, 'Stripe answered; the save failed');
    return { kind: 'pending', paymentId };
  }
  return outcomeOfSettled(settled, paymentId);
}

function outcomeOfSettled(settled: Settled, paymentId: string): PayOrderOutcome {
  switch (settled.kind) {
    case 'succeeded':
      return { kind: 'paid', paymentId };
    case 'cancelled-meanwhile':
    case 'declined':
    case 'not-completed':
      return settled;
    case 'pending':
    case 'lost':
      return { kind: 'pending', paymentId };
    default:
      return assertNever(settled);
  }
}

/**
 * A step failed that charged nothing (the PaymentMethod, the unconfirmed intent, or a confirmation
 * that Stripe processed and refused): the claim is released and the buyer told why.
 */
async function failedWithoutCharge(
  deps: PaymentDeps,
  payment: PaymentDoc,
  failure: StripeFailure,
): Promise<PayOrderOutcome> {
  const released = await release(payment).catch((err: unknown) => {
    deps.logger.error({ err, paymentId: payment.id }, 'could not release the claim; the reconciler will');
    return true;
  });
  // Someone else took the claim (our lease ran out): theirs to settle.
  if (!released) return { kind: 'pending', paymentId: payment._id.toHexString() };
  switch (failure.kind) {
    case 'declined':
      return { kind: 'declined', message: failure.message };
    case 'invalid-token':
      throw new BadRequestError(`The card token was refused: ${failure.message}`, 'INVALID_PAYMENT_TOKEN', 'token');
    case 'refused':
      throw new PaymentProviderError();
    case 'unreachable':
      throw new ServiceUnavailableError(
        'The payment provider could not be reached; nothing was charged, please try again shortly',
        'PAYMENT_PROVIDER_UNAVAILABLE',
      );
    default:
      return assertNever(failure);
  }
}
