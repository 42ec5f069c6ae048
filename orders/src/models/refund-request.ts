import mongoose, { Schema, type Model, type Types } from 'mongoose';

/**
 * A payment that must be given back: it arrived for an order that was already cancelled (expired or
 * cancelled by the buyer while they were paying), for an order that another payment had already
 * completed, or for an order this service does not know. The order itself is left alone (a late payment never resurrects it, and touching it
 * would bump its version without an event). `_id` is the payment's id, so a redelivered
 * payment:created records nothing twice. Refunding is an operator's (or a future job's) task.
 */
export type RefundReason = 'order-cancelled' | 'order-already-paid' | 'order-unknown';

export interface RefundRequestAttrs {
  _id: Types.ObjectId;
  orderId: string;
  stripeId: string;
  reason: RefundReason;
  createdAt: Date;
}

const refundRequestSchema = new Schema<RefundRequestAttrs>(
  {
    orderId: { type: String, required: true },
    stripeId: { type: String, required: true },
    reason: { type: String, required: true, enum: ['order-cancelled', 'order-already-paid', 'order-unknown'] },
    createdAt: { type: Date, required: true, default: () => new Date() },
  },
  { versionKey: false },
);

export const RefundRequest: Model<RefundRequestAttrs> = mongoose.model<RefundRequestAttrs>(
  'RefundRequest',
  refundRequestSchema,
);
