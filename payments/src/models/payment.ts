import { apiJson, outboxPlugin, versionPlugin, type OutboxEntry } from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';

export enum PaymentStatus {
  /**
   * The order is claimed and a request is asking Stripe, holding the claim until `leaseUntil`; no
   * other payment of this order can start. Past `leaseUntil` (the request's process died, say) the
   * reconciler settles it.
   */
  Pending = 'pending',
  /**
   * Stripe may have taken the money, or is still taking it (a lost answer, a 5xx, `processing`):
   * the claim stays, nothing new is charged, and the reconciler settles it (services/reconciler.ts).
   */
  Unknown = 'unknown',
  /** Stripe took the money. */
  Succeeded = 'succeeded',
  /** The order was cancelled (expired) while it was being paid: the money was given back. */
  Refunded = 'refunded',
}

export interface PaymentAttrs {
  /** The order paid for; unique: one payment per order, which is what stops a double charge. */
  orderId: string;
  /** Integer cents (19.99 is 1999), as Stripe takes it. */
  amount: number;
  currency: 'usd';
  status: PaymentStatus;
  /** The Stripe PaymentIntent; stored before it is confirmed, so whoever settles the claim can ask for it. */
  stripeId?: string;
  /** Stripe's status of the PaymentIntent when it was last seen (succeeded, processing, ...). */
  stripeStatus?: string;
  /** Pending or unknown: who holds the claim (a request, a reconciler) holds it until then. */
  leaseUntil?: Date;
  refundId?: string;
  version: number;
  outbox: OutboxEntry[];
  createdAt: Date;
  updatedAt: Date;
}

export type PaymentDoc = HydratedDocument<PaymentAttrs>;

const paymentSchema = new Schema<PaymentAttrs>(
  {
    orderId: { type: String, required: true },
    amount: { type: Number, required: true, min: 1, validate: Number.isInteger },
    currency: { type: String, required: true, enum: ['usd'], default: 'usd' },
    status: { type: String, required: true, enum: Object.values(PaymentStatus) },
    stripeId: { type: String },
    stripeStatus: { type: String },
    refundId: { type: String },
    leaseUntil: { type: Date },
  },
  {
    timestamps: true,
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        return apiJson(ret, { cents: ['amount', 'amount'], hide: ['updatedAt', 'leaseUntil'] });
      },
    },
  },
);

// The claim: inserting the pending payment is what decides which of concurrent requests charges.
paymentSchema.index({ orderId: 1 }, { unique: true });
// The reconciler's query: the claims not settled yet whose holder's time is up.
paymentSchema.index({ status: 1, leaseUntil: 1 });
paymentSchema.plugin(versionPlugin, { mode: 'owner' });
paymentSchema.plugin(outboxPlugin);

export const Payment: Model<PaymentAttrs> = mongoose.model<PaymentAttrs>('Payment', paymentSchema);
