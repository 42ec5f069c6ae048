import {
  OrderStatus,
  Subjects,
  fromCents,
  isActiveStatus,
  outboxPlugin,
  stageEvent,
  versionPlugin,
  type TicketUpdatedEvent,
  type Versioned,
  type VersionedStatics,
  type WithOutbox,
} from '@ticketing/common';
import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';

export const TITLE_MAX_LENGTH = 200;

/** What a seller provides. The price is stored in integer cents so that it stays exact. */
export interface TicketAttrs {
  title: string;
  priceCents: number;
  userId: string;
}

/**
 * What the tickets service has heard of one order on this ticket: the latest of that order's events
 * (the one with the highest order version). Events of one order arrive on separate channels, so a
 * cancellation can come before the creation it cancels; keeping every order's latest state is what
 * lets any delivery order, duplicates included, end in the same place.
 */
export interface KnownOrder {
  id: string;
  /** created (from order:created), cancelled or complete. */
  status: OrderStatus;
  /** The order's version in that event; an event at or below it is a duplicate or older news. */
  version: number;
  /** From order:created: tells which of two orders that both look active was created last. */
  expiresAt?: Date | undefined;
}

export interface TicketFields extends TicketAttrs, Versioned, WithOutbox {
  /**
   * The order holding the ticket (active or complete), derived from `orders` (see holderOf); unset
   * (never null) when it is free. Stored so that the listing can filter on it.
   */
  orderId?: string | undefined;
  /** True once the holding order is complete: the ticket is sold for good. Unset otherwise. */
  sold?: boolean | undefined;
  /** Every order heard of for this ticket, with its latest state. Internal: never in the API or events. */
  orders: KnownOrder[];
  /**
   * Legacy (before `orders`): ids of cancelled orders that did not hold the ticket. Read by
   * knownOrdersOf and removed by the next change of the order set.
   */
  cancelledOrderIds?: string[] | undefined;
}

export type TicketDoc = HydratedDocument<TicketFields>;

export interface TicketModel extends Model<TicketFields>, VersionedStatics<TicketDoc> {}

/** The API's view of a ticket: `{ id, title, price, userId, version, orderId?, sold? }`. */
export interface TicketJson {
  id: string;
  title: string;
  price: number;
  userId: string;
  version: number;
  orderId?: string;
  sold?: true;
}

/** What the API shows of a stored ticket: the fields a lean read with TICKET_VIEW_PROJECTION returns. */
export type TicketView = Pick<TicketFields, 'title' | 'priceCents' | 'userId' | 'version' | 'orderId' | 'sold'> & {
  _id: mongoose.Types.ObjectId;
};

export const TICKET_VIEW_PROJECTION = { title: 1, priceCents: 1, userId: 1, version: 1, orderId: 1, sold: 1 } as const;

/** The API's JSON of a ticket, from a document or a lean read. */
export function ticketJson(t: TicketView): TicketJson {
  const json: TicketJson = {
    id: String(t._id),
    title: t.title,
    price: fromCents(t.priceCents),
    userId: t.userId,
    version: t.version,
  };
  if (typeof t.orderId === 'string') json.orderId = t.orderId;
  if (t.sold === true) json.sold = true;
  return json;
}

const ticketSchema = new Schema<TicketFields, TicketModel>(
  {
    title: { type: String, required: true, trim: true, maxlength: TITLE_MAX_LENGTH },
    priceCents: {
      type: Number,
      required: true,
      min: 1,
      validate: { validator: Number.isSafeInteger, message: 'priceCents must be an integer' },
    },
    userId: { type: String, required: true },
    orderId: { type: String },
    sold: { type: Boolean },
    // A plain list, not subdocuments (as the outbox's entries): written only by recordOrderEvent,
    // from validated order events, and always replaced whole (set() marks it changed). As
    // subdocuments, mongoose cast, tracked and validated every known order on each load, set and
    // save: the largest share of a reservation's CPU in this service outside the driver.
    orders: { type: Schema.Types.Mixed, default: () => [] },
    cancelledOrderIds: { type: [String], default: undefined },
  },
  {
    versionKey: false,
    toJSON: {
      // A new object of the API's fields only: the outbox and the known orders never leave.
      transform: (_doc, ret: Record<string, unknown>): TicketJson => ticketJson(ret as unknown as TicketView),
    },
  },
);

ticketSchema.plugin(versionPlugin, { mode: 'owner' });
ticketSchema.plugin(outboxPlugin);

export const Ticket = mongoose.model<TicketFields, TicketModel>('Ticket', ticketSchema);

export function buildTicket(attrs: TicketAttrs): TicketDoc {
  return new Ticket(attrs);
}

/**
 * The payload describing the ticket as its next save will store it. The version plugin bumps
 * `version` inside that save (a new document is stored at 0), and staging the event is itself a
 * modification, so the event always carries the version the save writes.
 */
function eventData(ticket: TicketDoc): TicketUpdatedEvent['data'] {
  const data: TicketUpdatedEvent['data'] = {
    id: String(ticket._id),
    version: ticket.isNew ? ticket.version : ticket.version + 1,
    title: ticket.title,
    price: fromCents(ticket.priceCents),
    userId: ticket.userId,
  };
  if (ticket.orderId !== undefined) data.orderId = ticket.orderId;
  if (ticket.sold === true) data.sold = true;
  return data;
}

/** Queues ticket:created on a new ticket; `relay.commit(ticket)` stores both and publishes. */
export function stageTicketCreated(ticket: TicketDoc): void {
  const { id, version, title, price, userId } = eventData(ticket);
  stageEvent(ticket, Subjects.TicketCreated, { id, version, title, price, userId });
}

/** Queues ticket:updated (carrying the version the next save writes) on a changed ticket. */
export function stageTicketUpdated(ticket: TicketDoc): void {
  stageEvent(ticket, Subjects.TicketUpdated, eventData(ticket));
}

/**
 * The order that holds the ticket, given what is known of its orders. A complete order holds it for
 * good (sold); otherwise an active one (created, its cancellation not heard of) holds it; a
 * cancelled order never does.
 *
 * The orders service lets at most one order at a time be active or complete for a ticket (its
 * unique ticketLock), so two orders that both look active here mean the older one's cancellation
 * is still on its way: whichever is picked, the ticket is rightly held, and that cancellation
 * settles which. The one created last (latest expiresAt) is picked, as it is the one that can still
 * be active. Complete wins over active for the same reason: the lock of a complete order is never
 * released, so any other order was cancelled before the complete one was created.
 */
export function holderOf(orders: readonly KnownOrder[]): KnownOrder | undefined {
  const complete = orders.find((o) => o.status === OrderStatus.Complete);
  if (complete !== undefined) return complete;
  let holder: KnownOrder | undefined;
  for (const order of orders) {
    if (!isActiveStatus(order.status)) continue;
    if (holder === undefined || createdLater(order, holder)) holder = order;
  }
  return holder;
}

function createdLater(a: KnownOrder, b: KnownOrder): boolean {
  const at = a.expiresAt?.getTime() ?? 0;
  const bt = b.expiresAt?.getTime() ?? 0;
  return at !== bt ? at > bt : a.id > b.id; // the id only makes the choice deterministic
}

/**
 * The ticket's known orders, with what a ticket stored before `orders` existed says: its holder
 * (an order:created, version 0) and its remembered cancellations (version 1, the version an
 * order:cancelled carries).
 */
export function knownOrdersOf(ticket: TicketDoc): KnownOrder[] {
  const known: KnownOrder[] = ticket.orders.map(knownOrder);
  const has = (id: string): boolean => known.some((o) => o.id === id);
  for (const id of ticket.cancelledOrderIds ?? []) {
    if (!has(id)) known.push({ id, status: OrderStatus.Cancelled, version: 1 });
  }
  if (ticket.orderId !== undefined && !has(ticket.orderId)) {
    known.push({ id: ticket.orderId, status: OrderStatus.Created, version: 0 });
  }
  return known;
}

/** One known order as stored: a plain value, its expiresAt only when there is one (never null). */
function knownOrder(o: KnownOrder): KnownOrder {
  const { id, status, version, expiresAt } = o;
  return expiresAt instanceof Date ? { id, status, version, expiresAt } : { id, status, version };
}

/**
 * Records an order event on the ticket and derives who holds it. Returns false, changing nothing,
 * when the event is no news: a duplicate, an event older than what is known of that order, or
 * anything after the order was cancelled or completed (both final). Any news is a change of the
 * ticket even when the holder stays the same: it is stored by a versioned save (the version bumps
 * and ticket:updated goes out), because a write that skipped the version would be overwritten by a
 * concurrent versioned save of another replica of this service.
 */
export function recordOrderEvent(ticket: TicketDoc, event: KnownOrder): boolean {
  const known = knownOrdersOf(ticket);
  const previous = known.find((o) => o.id === event.id);
  // Cancelled and complete are final in the orders service: nothing after them is news.
  if (previous !== undefined && (previous.version >= event.version || !isActiveStatus(previous.status))) return false;
  const next = [...known.filter((o) => o.id !== event.id), knownOrder(event)];
  const holder = holderOf(next);
  ticket.set('orders', next);
  ticket.set('cancelledOrderIds', undefined);
  // Unset, not null, when free or not sold.
  ticket.set('orderId', holder?.id);
  ticket.set('sold', holder?.status === OrderStatus.Complete ? true : undefined);
  return true;
}
