import {
  OrderStatus,
  Subjects,
  VersionConflictError,
  assertNever,
  stageEvent,
  type Logger,
  type OutboxRelay,
} from '@ticketing/common';
import type Stripe from 'stripe';
import { Order } from '../models/order';
import { PaymentStatus, type PaymentDoc } from '../models/payment';
import { cancelIntent, type Intent } from './charge';
import { exclusive, markUnknown, release } from './claim';
import { refundIfPaid } from './refund';

export interface SettleDeps {
  stripe: Stripe;
  relay: OutboxRelay;
  logger: Logger;
}

/** What a claim became once its PaymentIntent's status was known. */
export type Settled =
  /** Recorded as succeeded; payment:created is staged in the same save. */
  | { kind: 'succeeded'; payment: PaymentDoc }
  /** Recorded, but the order was cancelled meanwhile: refunded (or to be refunded). */
  | { kind: 'cancelled-meanwhile'; refunded: boolean }
  /** Still open (processing, or a step failed without an answer): left unknown for the reconciler. */
  | { kind: 'pending'; payment: PaymentDoc }
  /** The card was declined: nothing charged, the claim released. */
  | { kind: 'declined'; message: string }
  /** The intent cannot complete here (it needs an authentication, it was cancelled): released. */
  | { kind: 'not-completed'; message: string }
  /** Someone else holds the claim now (a newer version): theirs to settle. */
  | { kind: 'lost' };

const NEEDS_ACTION =
  'The payment needs an authentication of the card (such as 3-D Secure) that this checkout cannot run; nothing was charged';

/**
 * Applies what Stripe says about the claim's PaymentIntent to the claim: the one rule for the route
 * (after its confirmation) and the reconciler (after asking Stripe). Only `succeeded` completes the
 * order; `processing` waits; the other statuses charge nothing, and the intent is cancelled first
 * when it could still move on (so it never succeeds after its claim is gone).
 */
export async function settleWithIntent(deps: SettleDeps, payment: PaymentDoc, intent: Intent): Promise<Settled> {
  const status = intent.status;
  if (!isKnownStatus(status)) {
    // A status newer than this code: nothing completes on it; left unknown for an operator to see.
    deps.logger.error({ paymentId: payment.id, stripeId: intent.id, status }, 'PaymentIntent in an unknown status');
    return (await markUnknown(payment, status)) ? { kind: 'pending', payment } : { kind: 'lost' };
  }
  switch (status) {
    case 'succeeded':
      return recordSuccess(deps, payment, intent);
    case 'processing':
      return (await markUnknown(payment, intent.status)) ? { kind: 'pending', payment } : { kind: 'lost' };
    case 'requires_payment_method':
      // Declined at confirmation: chargeable again only by a new confirmation, which nobody sends.
      if (!(await release(payment))) return { kind: 'lost' };
      return { kind: 'declined', message: intent.last_payment_error?.message ?? 'The card was declined' };
    case 'canceled':
      if (!(await release(payment))) return { kind: 'lost' };
      return { kind: 'not-completed', message: 'The payment was cancelled; nothing was charged' };
    case 'requires_action':
    case 'requires_capture':
    case 'requires_confirmation':
      return cancelThenRelease(deps, payment, intent);
    default:
      return assertNever(status);
  }
}

const KNOWN_STATUSES = [
  'succeeded',
  'processing',
  'requires_payment_method',
  'canceled',
  'requires_action',
  'requires_capture',
  'requires_confirmation',
] as const;
type KnownStatus = (typeof KNOWN_STATUSES)[number];

/** Stripe's types allow any string (statuses added later); these are the ones it documents. */
function isKnownStatus(status: string): status is KnownStatus {
  return (KNOWN_STATUSES as readonly string[]).includes(status);
}

async function cancelThenRelease(deps: SettleDeps, payment: PaymentDoc, intent: Intent): Promise<Settled> {
  const cancelled = await cancelIntent(deps.stripe, intent.id, payment._id.toHexString(), deps.logger);
  if (!cancelled.ok) {
    // Not cancelled (no answer, or the intent moved on meanwhile): ask again later.
    return (await markUnknown(payment, intent.status)) ? { kind: 'pending', payment } : { kind: 'lost' };
  }
  if (cancelled.value.status !== 'canceled') return settleWithIntent(deps, payment, cancelled.value);
  if (!(await release(payment))) return { kind: 'lost' };
  return {
    kind: 'not-completed',
    message:
      intent.status === 'requires_action' ? NEEDS_ACTION : 'The payment could not be completed; nothing was charged',
  };
}

/**
 * Records the charge and stages payment:created in the same single-document save (the outbox), then
 * gives the money back if the order was cancelled meanwhile.
 */
async function recordSuccess(deps: SettleDeps, payment: PaymentDoc, intent: Intent): Promise<Settled> {
  const orderId = payment.orderId;
  const stored = await exclusive(payment, async () => {
    payment.set({ status: PaymentStatus.Succeeded, stripeId: intent.id, stripeStatus: intent.status });
    payment.set('leaseUntil', undefined);
    stageEvent(payment, Subjects.PaymentCreated, { id: payment._id.toHexString(), orderId, stripeId: intent.id });
    try {
      await deps.relay.commit(payment);
      return true;
    } catch (err) {
      if (err instanceof VersionConflictError) return false;
      throw err;
    }
  });
  if (!stored) return { kind: 'lost' };
  deps.logger.info({ orderId, paymentId: payment.id, stripeId: intent.id }, 'payment succeeded');
  const refunded = await refundIfCancelledMeanwhile(deps, orderId);
  return refunded === undefined ? { kind: 'succeeded', payment } : { kind: 'cancelled-meanwhile', refunded };
}

/**
 * The order may have been cancelled (expired) while Stripe was charging. This check runs after the
 * payment is stored as succeeded, and the order:cancelled listener refunds after storing the
 * cancellation, so whichever of the two runs second sees the other's write: a paid-then-cancelled
 * order is always refunded (possibly by both, which Stripe's idempotency key makes harmless).
 * Answers undefined when the order is not cancelled, else whether the refund went through.
 */
async function refundIfCancelledMeanwhile(deps: SettleDeps, orderId: string): Promise<boolean | undefined> {
  const current = await Order.findById(orderId).select({ status: 1 }).lean<{ status: OrderStatus }>();
  if (current?.status !== OrderStatus.Cancelled) return undefined;
  try {
    await refundIfPaid(deps.stripe, orderId, deps.logger);
    return true;
  } catch (err) {
    deps.logger.error(
      { err, orderId },
      'refund of a payment for a cancelled order failed; the orders service records it',
    );
    return false;
  }
}
