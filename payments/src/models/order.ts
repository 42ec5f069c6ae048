import {
  apiJson,
  OrderStatus,
  RetryLaterError,
  VersionConflictError,
  versionPlugin,
  type VersionedStatics,
} from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';

/**
 * The orders service's orders, as far as payments needs them: who may pay, how much, and whether the
 * order can still take a payment. `_id` is the orders service's id and `version` its version: this is
 * a replica, fed by order:created / order:cancelled / order:completed and never changed otherwise.
 */
export interface OrderAttrs {
  userId: string;
  status: OrderStatus;
  /** The price the order was created with, in integer cents: what the buyer is charged. */
  priceCents: number;
  expiresAt: Date;
  version: number;
}

export type OrderDoc = HydratedDocument<OrderAttrs>;
export type OrderModel = Model<OrderAttrs> & VersionedStatics<OrderDoc>;

const orderSchema = new Schema<OrderAttrs, OrderModel>(
  {
    userId: { type: String, required: true },
    status: { type: String, required: true, enum: Object.values(OrderStatus) },
    priceCents: { type: Number, required: true, min: 1 },
    expiresAt: { type: Date, required: true },
  },
  {
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        return apiJson(ret, { cents: ['priceCents', 'price'] });
      },
    },
  },
);

orderSchema.plugin(versionPlugin, { mode: 'replica' });

export const Order = mongoose.model<OrderAttrs, OrderModel>('Order', orderSchema);

export type ReplicaOutcome = 'applied' | 'stale';

/**
 * Applies the change an orders event describes, only on top of the previous version (N over N-1).
 * An event the replica already has (a redelivery) or one older than what it has is 'stale': the
 * listener acks and ignores it. An event from the future (N-1 not seen yet) throws RetryLaterError,
 * so the message stays unacked and comes back after the ack wait, by when N-1 has usually arrived.
 */
export async function applyOrderEvent(
  event: { id: string; version: number },
  change: (order: OrderDoc) => void,
): Promise<ReplicaOutcome> {
  const order = await Order.findByEvent(event);
  if (order === null) return staleOrLater(event);
  change(order);
  order.set('version', event.version);
  try {
    await order.save();
    return 'applied';
  } catch (err) {
    // A concurrent delivery of the same event (or a newer one) saved first.
    if (err instanceof VersionConflictError) return staleOrLater(event);
    throw err;
  }
}

async function staleOrLater(event: { id: string; version: number }): Promise<ReplicaOutcome> {
  const stored = await Order.findById(event.id).select({ version: 1 }).lean<{ version: number }>();
  if (stored !== null && stored.version >= event.version) return 'stale';
  throw new RetryLaterError(
    `order ${event.id} is at version ${stored === null ? 'none' : stored.version}; event has version ${event.version}`,
  );
}
