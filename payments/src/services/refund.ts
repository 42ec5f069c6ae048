import type { Logger } from '@ticketing/common';
import type Stripe from 'stripe';
import { Payment, PaymentStatus } from '../models/payment';
import { refundCharge } from './charge';

export type RefundOutcome = 'refunded' | 'nothing-to-refund';

/**
 * Gives the money back for an order that was cancelled although it was paid (the buyer paid in the
 * last moments while the expiration fired). Safe to call any number of times, from the order:cancelled
 * listener and from the payment route alike: Stripe refunds one PaymentIntent once per idempotency
 * key, and the payment moves from succeeded to refunded once.
 */
export async function refundIfPaid(stripe: Stripe, orderId: string, logger: Logger): Promise<RefundOutcome> {
  const payment = await Payment.findOne({ orderId, status: PaymentStatus.Succeeded });
  if (payment === null || payment.stripeId === undefined) return 'nothing-to-refund';
  const refundId = await refundCharge(stripe, payment.stripeId, orderId);
  await Payment.updateOne(
    { _id: payment._id, status: PaymentStatus.Succeeded },
    { $set: { status: PaymentStatus.Refunded, refundId }, $inc: { version: 1 } },
  );
  logger.warn(
    { orderId, paymentId: payment._id.toHexString(), stripeId: payment.stripeId, refundId },
    'paid order was cancelled: refunded',
  );
  return 'refunded';
}
