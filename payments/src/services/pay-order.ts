import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  OrderStatus,
  Subjects,
  assertNever,
  stageEvent,
  type Logger,
  type OutboxRelay,
} from '@ticketing/common';
import type Stripe from 'stripe';
import { Order, type OrderDoc } from '../models/order';
import { Payment, PaymentStatus, type PaymentDoc } from '../models/payment';
import { chargeCard } from './charge';
import { refundIfPaid } from './refund';

export interface PaymentDeps {
  stripe: Stripe;
  relay: OutboxRelay;
  logger: Logger;
}

export interface PayOrderInput {
  userId: string;
  orderId: string;
  token: string;
}

const alreadyPaid = (): BadRequestError =>
  new BadRequestError('This order has already been paid (or a payment for it is in progress)', 'ORDER_ALREADY_PAID');

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

/** Inserts the pending payment that reserves the order; the unique orderId index lets one request win. */
async function claim(order: OrderDoc): Promise<PaymentDoc> {
  try {
    return await Payment.create({
      orderId: order._id.toHexString(),
      amount: order.priceCents,
      currency: 'usd',
      status: PaymentStatus.Pending,
    });
  } catch (err) {
    if ((err as { code?: unknown }).code === 11000) throw alreadyPaid();
    throw err;
  }
}

/**
 * POST /api/payments, past validation. The order is claimed first (a pending payment, unique per
 * order), so of concurrent payments of one order exactly one reaches Stripe; the others are refused
 * without a charge. A Stripe failure releases the claim and stores nothing. A success records the
 * charge and stages payment:created in the same single-document save (the outbox).
 */
export async function payOrder(deps: PaymentDeps, input: PayOrderInput): Promise<PaymentDoc> {
  const order = await Order.findById(input.orderId);
  if (order === null) throw new NotFoundError('Order not found', 'ORDER_NOT_FOUND');
  // The canonical form (an id typed in capitals names the same order, and must claim the same one).
  const orderId = order._id.toHexString();
  if (order.userId !== input.userId)
    throw new ForbiddenError('You can only pay for your own orders', 'NOT_ORDER_OWNER');
  assertPayable(order, Date.now());

  // No "already paid?" read first: the claim's unique orderId answers it in the same insert (and on
  // FerretDB a query by orderId would scan the whole collection).
  const payment = await claim(order);
  let charge;
  try {
    charge = await chargeCard(
      deps.stripe,
      { orderId, amount: payment.amount, currency: payment.currency, token: input.token },
      deps.logger,
    );
  } catch (err) {
    await Payment.deleteOne({ _id: payment._id, status: PaymentStatus.Pending });
    throw err;
  }

  payment.set({ status: PaymentStatus.Succeeded, stripeId: charge.stripeId, stripeStatus: charge.stripeStatus });
  stageEvent(payment, Subjects.PaymentCreated, {
    id: payment._id.toHexString(),
    orderId,
    stripeId: charge.stripeId,
  });
  try {
    await deps.relay.commit(payment);
  } catch (err) {
    // The money is taken but not recorded: the pending payment keeps the order claimed, and the
    // PaymentIntent (metadata.orderId) is how an operator reconciles it.
    deps.logger.error({ err, orderId, stripeId: charge.stripeId }, 'charged, but the payment could not be recorded');
    throw err;
  }

  await refundIfCancelledMeanwhile(deps, orderId);
  return payment;
}

/**
 * The order may have been cancelled (expired) while Stripe was charging. This check runs after the
 * payment is stored as succeeded, and the order:cancelled listener refunds after storing the
 * cancellation, so whichever of the two runs second sees the other's write: a paid-then-cancelled
 * order is always refunded (possibly by both, which Stripe's idempotency key makes harmless).
 */
async function refundIfCancelledMeanwhile(deps: PaymentDeps, orderId: string): Promise<void> {
  const current = await Order.findById(orderId).select({ status: 1 }).lean<{ status: OrderStatus }>();
  if (current?.status !== OrderStatus.Cancelled) return;
  let refunded = true;
  try {
    await refundIfPaid(deps.stripe, orderId, deps.logger);
  } catch (err) {
    refunded = false;
    deps.logger.error(
      { err, orderId },
      'refund of a payment for a cancelled order failed; the orders service records it',
    );
  }
  throw new BadRequestError(
    refunded
      ? 'This order was cancelled while it was being paid; the charge has been refunded'
      : 'This order was cancelled while it was being paid; the charge will be refunded',
    'ORDER_CANCELLED',
  );
}
