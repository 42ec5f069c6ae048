import {
  apiJson,
  OrderStatus,
  outboxPlugin,
  versionPlugin,
  type OutboxEntry,
  type VersionedStatics,
} from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model, type Types } from 'mongoose';
import { Ticket } from './ticket';

export interface OrderPayment {
  /** The payments service's id of the payment. */
  id: string;
  stripeId: string;
}

export interface OrderAttrs {
  userId: string;
  status: OrderStatus;
  expiresAt: Date;
  /** The ticket replica (models/ticket.ts); populated on reads. */
  ticket: Types.ObjectId;
  /** The ticket's price when the order was created: the order keeps it whatever the seller does later. */
  priceCents: number;
  /**
   * What makes double booking impossible. A UNIQUE index covers this field; it holds the ticket's id
   * while the order holds the ticket (active or complete) and the order's own id once it is
   * cancelled. So "is the ticket free?" and "reserve it" are one insert: a second order holding the
   * same ticket fails with a duplicate key. A partial unique index over active orders would say the
   * same, but FerretDB has no partial indexes, and this works on both servers.
   */
  ticketLock: Types.ObjectId;
  payment?: OrderPayment;
  version: number;
  outbox: OutboxEntry[];
}

export type OrderDoc = HydratedDocument<OrderAttrs>;
export type OrderModel = Model<OrderAttrs> & VersionedStatics<OrderDoc>;

const orderSchema = new Schema<OrderAttrs, OrderModel>(
  {
    userId: { type: String, required: true },
    status: { type: String, required: true, enum: Object.values(OrderStatus), default: OrderStatus.Created },
    expiresAt: { type: Date, required: true },
    ticket: { type: Schema.Types.ObjectId, ref: 'Ticket', required: true },
    priceCents: { type: Number, required: true, min: 1 },
    ticketLock: { type: Schema.Types.ObjectId, required: true },
    payment: {
      type: new Schema<OrderPayment>(
        { id: { type: String, required: true }, stripeId: { type: String, required: true } },
        { _id: false },
      ),
    },
  },
  {
    timestamps: true,
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        return apiJson(ret, { cents: ['priceCents', 'price'], hide: ['ticketLock', 'payment', 'updatedAt'] });
      },
    },
  },
);

orderSchema.index({ ticketLock: 1 }, { unique: true });
orderSchema.index({ userId: 1 });
orderSchema.plugin(versionPlugin, { mode: 'owner' });
orderSchema.plugin(outboxPlugin);

export const Order = mongoose.model<OrderAttrs, OrderModel>('Order', orderSchema);

/**
 * The version the document will have once the pending save succeeds (the owner-mode plugin bumps it
 * on every save of a change, not on the insert): events staged before the save must carry it.
 */
export function versionAfterSave(order: OrderDoc): number {
  return order.isNew ? order.version : order.version + 1;
}

/**
 * Puts the order's ticket (the replica) in place of its id, for responses. A single order does not
 * use populate(): populate queries `{ _id: { $in: [...] } }`, which FerretDB (tests, dev stack)
 * answers with a scan of the whole collection, while findById is a key lookup on both servers.
 */
export async function withTicket(order: OrderDoc): Promise<OrderDoc> {
  const ticket = await Ticket.findById(order.ticket);
  if (ticket !== null) order.set('ticket', ticket);
  return order;
}

/** The ticket's id, whether `ticket` is populated or not. */
export function ticketIdOf(order: OrderDoc): string {
  const id = (order.populated('ticket') as Types.ObjectId | undefined) ?? order.ticket;
  return id.toHexString();
}
