import {
  apiJson,
  OrderStatus,
  type ApiJsonOptions,
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
   * same, but the test server has no partial indexes (see ServerProfile in common), and this works
   * on every server.
   */
  ticketLock: Types.ObjectId;
  /**
   * What caps a user's unpaid orders (MAX_ACTIVE_ORDERS_PER_USER), the same way: a UNIQUE index
   * covers it. An active order holds one of its user's N slots, `<userId>/<k>` with k < N; the save
   * that cancels or completes it moves the field to the order's own id, which frees the slot. At most
   * N distinct values exist per user, so at most N active orders, whatever the concurrency and on
   * every server (no read-then-write, no counter to keep in step). Absent on orders stored before
   * the limit existed (the index is sparse); those expire within the expiration window.
   */
  userSlot?: string;
  payment?: OrderPayment;
  version: number;
  outbox: OutboxEntry[];
}

export type OrderDoc = HydratedDocument<OrderAttrs>;
export type OrderModel = Model<OrderAttrs> & VersionedStatics<OrderDoc>;

/** How an order is shown: its price as a decimal, its internal fields never. */
const ORDER_JSON: ApiJsonOptions = {
  cents: ['priceCents', 'price'],
  hide: ['ticketLock', 'userSlot', 'payment', 'updatedAt'],
};

/** A stored order as a lean read returns it. */
export type OrderRow = OrderAttrs & { _id: Types.ObjectId; createdAt?: Date; updatedAt?: Date };

/**
 * The API's view of an order read with lean(), as its document's toJSON shows it, with its ticket
 * (the replica's view, or the ticket's id when the replica has none).
 */
export function orderJson(order: OrderRow, ticket: Record<string, unknown> | Types.ObjectId): Record<string, unknown> {
  return { ...apiJson({ ...order }, ORDER_JSON), ticket };
}

const orderSchema = new Schema<OrderAttrs, OrderModel>(
  {
    userId: { type: String, required: true },
    status: { type: String, required: true, enum: Object.values(OrderStatus), default: OrderStatus.Created },
    expiresAt: { type: Date, required: true },
    ticket: { type: Schema.Types.ObjectId, ref: 'Ticket', required: true },
    priceCents: { type: Number, required: true, min: 1 },
    ticketLock: { type: Schema.Types.ObjectId, required: true },
    userSlot: { type: String },
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
        return apiJson(ret, ORDER_JSON);
      },
    },
  },
);

orderSchema.index({ ticketLock: 1 }, { unique: true });
orderSchema.index({ userId: 1 });
// Sparse for orders stored before userSlot existed (MongoDB would index them all as one null).
orderSchema.index({ userSlot: 1 }, { unique: true, sparse: true });
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
 * Puts the order's ticket (the replica) in place of its id, for responses: one read by _id, the
 * lookup every server answers from its key. (populate() would send `{ _id: { $in: [...] } }`,
 * which a server without indexed filters answers with a collection scan, see ServerProfile.)
 */
export async function withTicket(order: OrderDoc): Promise<OrderDoc> {
  const ticket = await Ticket.findById(order.ticket);
  if (ticket !== null) order.set('ticket', ticket);
  return order;
}

/** Slot k of a user's active orders (see userSlot). */
export function activeSlot(userId: string, k: number): string {
  return `${userId}/${k}`;
}

/** What an order's userSlot becomes once it is no longer active: its own id, which frees the slot. */
export function releaseSlot(order: OrderDoc): void {
  order.userSlot = order._id.toHexString();
}

/** The ticket's id, whether `ticket` is populated or not. */
export function ticketIdOf(order: OrderDoc): string {
  const id = (order.populated('ticket') as Types.ObjectId | undefined) ?? order.ticket;
  return id.toHexString();
}
