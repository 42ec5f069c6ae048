import {
  ACTIVE_ORDER_STATUSES,
  BadRequestError,
  ConflictError,
  OrderStatus,
  Subjects,
  assertNever,
  changeRecord,
  duplicateKeyFields,
  fromCents,
  isDuplicateKeyError,
  runExclusive,
  stageEvent,
  type Decision,
  type Logger,
  type OutboxRelay,
} from '@ticketing/common';
import {
  Order,
  activeSlot,
  releaseSlot,
  ticketIdOf,
  versionAfterSave,
  type OrderDoc,
  type OrderPayment,
} from '../models/order';
import { RefundRequest, type RefundReason } from '../models/refund-request';
import type { Types } from 'mongoose';
import type { TicketAttrs } from '../models/ticket';
import { recordOrder } from './order-index';

/** What an order needs of its ticket (a replica document or a lean read of one). */
export type OrderedTicket = Pick<TicketAttrs, '_id' | 'priceCents'>;

/**
 * Every change of an order lives here, shared by the routes and the listeners. Each change is one
 * save of the order holding both the new state and the event that describes it (the outbox),
 * guarded by the version plugin: when another process saved first, the order is reloaded and the
 * decision taken again on fresh data.
 */

/**
 * Runs the changes of one order one after another within this process (see runExclusive in common:
 * where conditional updates are not atomic, two saves guarded by one version could both succeed). It also keeps a change from racing the relay's removal of the previous event.
 */
function oneAtATime<T>(orderId: string, task: () => Promise<T>): Promise<T> {
  return runExclusive(orderKey(orderId), task);
}

function orderKey(orderId: string): string {
  return `order:${orderId}`;
}

/** The slots of the user's active orders that no order holds, from a fresh read. */
async function freeSlots(userId: string, maxActiveOrders: number): Promise<string[]> {
  const active = await Order.find({ userId, status: { $in: ACTIVE_ORDER_STATUSES } })
    .select({ userSlot: 1 })
    .lean<Array<{ userSlot?: string }>>();
  const held = new Set(active.map((order) => order.userSlot));
  return Array.from({ length: maxActiveOrders }, (_, k) => activeSlot(userId, k)).filter((slot) => !held.has(slot));
}

export async function createOrder(
  relay: OutboxRelay,
  input: { userId: string; ticket: OrderedTicket; expiresAt: Date; maxActiveOrders: number },
): Promise<OrderDoc> {
  // First without reading the user's orders: a random one of the user's slots. Buyers seldom hold
  // unpaid orders, so this insert mostly succeeds, and it is as safe as any other (the unique
  // indexes decide, not a read). When it fails on a duplicate key, the order is decided below from
  // which index refused it. The read of the user's orders is what it saves: on a server without
  // indexed filters (ServerProfile.indexedFilters) it scans the whole collection.
  if (input.maxActiveOrders > 0) {
    const slot = activeSlot(input.userId, Math.floor(Math.random() * input.maxActiveOrders));
    const order = newOrder(input, slot);
    if (await insertInSlot(relay, order, input.ticket)) return listed(order);
  }
  // The ticket was free: a concurrent order of this user took the slot we tried. Within about
  // maxActiveOrders attempts the slots are all taken (then the read below says so) unless orders
  // keep ending meanwhile; past the bound the client is told to try again.
  const maxAttempts = 2 * input.maxActiveOrders + 2;
  for (let attempt = 1; ; attempt += 1) {
    const free = await freeSlots(input.userId, input.maxActiveOrders);
    // A random free slot: concurrent orders of one user then rarely try the same one.
    const slot = free[Math.floor(Math.random() * free.length)];
    if (slot === undefined) {
      throw new BadRequestError(
        `You already have ${input.maxActiveOrders} unpaid orders: pay for or cancel one first`,
        'TOO_MANY_ACTIVE_ORDERS',
      );
    }
    const order = newOrder(input, slot);
    if (await insertInSlot(relay, order, input.ticket)) return listed(order);
    if (attempt >= maxAttempts) {
      throw new ConflictError('Too many orders at once for this user; try again', 'ORDER_CONTENTION');
    }
  }
}

/**
 * Inserts the order: true once stored, false when its slot was taken (by a concurrent order of the
 * same user). One insert checks and reserves: the unique ticketLock refuses a second order holding
 * this ticket and the unique userSlot a second order in this slot (unique indexes are atomic on
 * every server, see ServerProfile); a held ticket throws TICKET_RESERVED. Which index refused is
 * asked with the ticket first, so the many buyers of one ticket cost one read each at most (none
 * where the error names its index). Under the order's lock, so that a change triggered by
 * order:created (an expiration, a payment) waits until the relay has popped it.
 */
async function insertInSlot(relay: OutboxRelay, order: OrderDoc, ticket: OrderedTicket): Promise<boolean> {
  try {
    await oneAtATime(order._id.toHexString(), () => relay.commit(order));
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    if (await refusedForTicket(err, ticket)) throw ticketReserved();
    return false;
  }
}

/**
 * Whether a duplicate key error on an order's insert came from the ticket's lock (else from the
 * user's slot): the error says so where the server names the index (MongoDB); elsewhere a read of
 * the ticket's holder does.
 */
async function refusedForTicket(err: unknown, ticket: OrderedTicket): Promise<boolean> {
  const fields = duplicateKeyFields(err);
  if (fields !== undefined) return fields.includes('ticketLock');
  return ticketHeld(ticket);
}

/**
 * Lists a stored order in its buyer's list before the answer, so that the buyer's next
 * GET /api/orders shows it (order-index.ts). Outside the insert's try: a failure here must never be
 * taken for a slot or ticket conflict and retried as another order.
 */
async function listed(order: OrderDoc): Promise<OrderDoc> {
  rememberHolder(order.ticketLock, order._id);
  await recordOrder(order);
  return order;
}

/**
 * The order last seen holding each ticket, by this process: a hint of which order to read, never an
 * answer (ticketHeld reads that order by `_id` and checks it still holds the ticket). Where filters
 * are not indexed, looking the holder up by its ticketLock scans every order; with the hint, the
 * many buyers refused for one popular ticket cost a read by `_id` each. Bounded: the oldest go first.
 */
const knownHolders = new Map<string, Types.ObjectId>();
const KNOWN_HOLDERS_MAX = 10_000;

function rememberHolder(ticketId: Types.ObjectId, orderId: Types.ObjectId): void {
  const key = ticketId.toHexString();
  knownHolders.delete(key);
  knownHolders.set(key, orderId);
  if (knownHolders.size > KNOWN_HOLDERS_MAX) {
    const oldest = knownHolders.keys().next();
    if (oldest.done !== true) knownHolders.delete(oldest.value);
  }
}

/** Whether an order holds the ticket (its ticketLock), from a fresh read. */
async function ticketHeld(ticket: OrderedTicket): Promise<boolean> {
  const key = ticket._id.toHexString();
  const hinted = knownHolders.get(key);
  if (hinted !== undefined) {
    const holder = await Order.findById(hinted, { ticketLock: 1 }).lean<{ ticketLock: Types.ObjectId }>().exec();
    if (holder !== null && holder.ticketLock.equals(ticket._id)) return true;
    knownHolders.delete(key); // released (cancelled): whoever holds it now is looked up below
  }
  const found = await Order.exists({ ticketLock: ticket._id });
  if (found === null) return false;
  rememberHolder(ticket._id, found._id);
  return true;
}

function ticketReserved(): BadRequestError {
  return new BadRequestError('The ticket is already reserved', 'TICKET_RESERVED', 'ticketId');
}

/** A new order in `slot`, with its order:created staged. */
function newOrder(input: { userId: string; ticket: OrderedTicket; expiresAt: Date }, slot: string): OrderDoc {
  const order = new Order({
    userId: input.userId,
    status: OrderStatus.Created,
    expiresAt: input.expiresAt,
    ticket: input.ticket._id,
    priceCents: input.ticket.priceCents,
    ticketLock: input.ticket._id,
    userSlot: slot,
  });
  stageEvent(order, Subjects.OrderCreated, {
    id: order._id.toHexString(),
    version: versionAfterSave(order),
    status: order.status,
    userId: order.userId,
    expiresAt: order.expiresAt.toISOString(),
    ticket: { id: input.ticket._id.toHexString(), price: fromCents(order.priceCents) },
  });
  return order;
}

/** Loads the order, lets `decide` change it, saves (see changeRecord); null when there is no such order. */
async function transition<R>(
  relay: OutboxRelay,
  orderId: string,
  decide: (order: OrderDoc) => Decision<R> | null,
): Promise<{ order: OrderDoc; outcome: R } | null> {
  const result = await changeRecord({
    key: orderKey(orderId), // the key oneAtATime takes: changes of one order run one at a time
    load: () => Order.findById(orderId),
    decide,
    commit: (order) => relay.commit(order),
  });
  return result === null ? null : { order: result.doc, outcome: result.outcome };
}

export type CancelOutcome = 'cancelled' | 'already-cancelled' | 'complete';

/**
 * Cancels an active order and releases its ticket and its user slot in the same save (ticketLock and
 * userSlot move to the order's own id). A cancelled order stays as it is (idempotent) and so does a
 * complete one; the caller decides whether that is an error. With `userId`, another user's order
 * counts as absent (null).
 */
export function cancelOrder(
  relay: OutboxRelay,
  orderId: string,
  opts: { userId?: string } = {},
): Promise<{ order: OrderDoc; outcome: CancelOutcome } | null> {
  return transition<CancelOutcome>(relay, orderId, (order) => {
    if (opts.userId !== undefined && order.userId !== opts.userId) return null;
    switch (order.status) {
      case OrderStatus.Created:
      case OrderStatus.AwaitingPayment:
        order.status = OrderStatus.Cancelled;
        order.ticketLock = order._id;
        releaseSlot(order);
        stageEvent(order, Subjects.OrderCancelled, {
          id: order._id.toHexString(),
          version: versionAfterSave(order),
          ticket: { id: ticketIdOf(order) },
        });
        return { outcome: 'cancelled', changed: true };
      case OrderStatus.Cancelled:
        return { outcome: 'already-cancelled', changed: false };
      case OrderStatus.Complete:
        return { outcome: 'complete', changed: false };
      default:
        return assertNever(order.status);
    }
  });
}

export type PaymentOutcome = 'completed' | 'duplicate' | 'refund-required';

/**
 * Completes an active order with its payment. A payment for a cancelled order (or a second payment
 * for a complete one) never changes the order: it is recorded as needing a refund and logged.
 * Null when there is no such order.
 */
export async function applyPayment(
  relay: OutboxRelay,
  orderId: string,
  payment: OrderPayment,
  logger: Logger,
): Promise<{ order: OrderDoc; outcome: PaymentOutcome } | null> {
  const result = await transition<PaymentOutcome>(relay, orderId, (order) => {
    switch (order.status) {
      case OrderStatus.Created:
      case OrderStatus.AwaitingPayment:
        order.status = OrderStatus.Complete;
        order.payment = payment;
        // Paid: no longer counts against the user's unpaid orders (the ticket stays locked).
        releaseSlot(order);
        stageEvent(order, Subjects.OrderCompleted, {
          id: order._id.toHexString(),
          version: versionAfterSave(order),
          ticket: { id: ticketIdOf(order) },
        });
        return { outcome: 'completed', changed: true };
      case OrderStatus.Complete:
        return { outcome: order.payment?.id === payment.id ? 'duplicate' : 'refund-required', changed: false };
      case OrderStatus.Cancelled:
        return { outcome: 'refund-required', changed: false };
      default:
        return assertNever(order.status);
    }
  });
  if (result?.outcome === 'refund-required') {
    const reason = result.order.status === OrderStatus.Cancelled ? 'order-cancelled' : 'order-already-paid';
    await requestRefund({ orderId, payment, reason }, logger);
  }
  return result;
}

/** Records (once per payment) that a payment must be refunded, and says so in the log. */
export async function requestRefund(
  input: { orderId: string; payment: OrderPayment; reason: RefundReason },
  logger: Logger,
): Promise<void> {
  const { orderId, payment, reason } = input;
  try {
    await RefundRequest.create({ _id: payment.id, orderId, stripeId: payment.stripeId, reason });
  } catch (err) {
    // Already recorded by an earlier delivery of the same payment:created.
    if (isDuplicateKeyError(err)) return;
    throw err;
  }
  logger.warn(
    { orderId, paymentId: payment.id, stripeId: payment.stripeId, reason },
    'payment for an order that cannot take it: refund required',
  );
}
