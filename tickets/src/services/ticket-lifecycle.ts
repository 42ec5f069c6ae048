import { changeRecord, type Decision, type OutboxRelay } from '@ticketing/common';
import {
  Ticket,
  buildTicket,
  recordOrderEvent,
  stageTicketCreated,
  stageTicketUpdated,
  type KnownOrder,
  type TicketAttrs,
  type TicketDoc,
} from '../models/ticket';

/**
 * Every change of a ticket lives here, shared by the routes and the listeners, in the shape of
 * orders' order-lifecycle: each function decides on a fresh copy and returns a typed outcome that
 * its caller maps (a route to HTTP, a listener to a log line). Each change is one save holding the
 * new state and its ticket:updated event (the outbox), guarded by the version plugin and retried on
 * a concurrent write by common's changeRecord.
 */

/** Told of every ticket this process stores, right after the save (the listing keeps current). */
export type StoredObserver = (ticket: TicketDoc) => void;

const observers = new Set<StoredObserver>();

/** Registers an observer of this process's saves; returns the function that removes it. */
export function onTicketStored(observer: StoredObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

async function commitTicket(relay: OutboxRelay, ticket: TicketDoc): Promise<void> {
  await relay.commit(ticket);
  for (const observer of observers) observer(ticket);
}

/**
 * Edits the ticket in place and says whether it changed anything (false: nothing is written and
 * no event is published).
 */
export type TicketChange = (ticket: TicketDoc) => boolean | Promise<boolean>;

/**
 * Decides on the latest stored copy of a ticket and stores a change with its ticket:updated event.
 * A seller's edit racing a reservation makes the save fail with VersionConflictError: the ticket is
 * reloaded and the decision taken again on top of the other write. Null when there is no such ticket.
 */
async function decideOnTicket<R>(
  relay: OutboxRelay,
  id: string,
  decide: (ticket: TicketDoc) => Decision<R> | Promise<Decision<R>>,
  maxAttempts?: number,
): Promise<{ ticket: TicketDoc; outcome: R } | null> {
  const result = await changeRecord({
    // One change of a ticket at a time in this process (see runExclusive in common).
    key: `ticket:${id}`,
    load: () => Ticket.findById(id),
    decide: async (ticket: TicketDoc) => {
      const decision = await decide(ticket);
      if (decision.changed) stageTicketUpdated(ticket);
      return decision;
    },
    commit: (ticket) => commitTicket(relay, ticket),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
  return result === null ? null : { ticket: result.doc, outcome: result.outcome };
}

/** A change given as "edit in place, say whether anything changed"; the ticket as stored, or null. */
export async function changeTicket(
  relay: OutboxRelay,
  id: string,
  change: TicketChange,
  maxAttempts?: number,
): Promise<TicketDoc | null> {
  const result = await decideOnTicket(
    relay,
    id,
    async (t) => {
      const changed = await change(t);
      return { outcome: changed, changed };
    },
    maxAttempts,
  );
  return result === null ? null : result.ticket;
}

/** Lists a new ticket: one insert stores it and its ticket:created event. */
export async function createTicket(relay: OutboxRelay, attrs: TicketAttrs): Promise<TicketDoc> {
  const ticket = buildTicket(attrs);
  stageTicketCreated(ticket);
  await commitTicket(relay, ticket);
  return ticket;
}

export type EditOutcome = 'updated' | 'unchanged' | 'not-seller' | 'sold' | 'reserved';

/**
 * A seller's edit. Only the seller may edit, and only while no order holds the ticket; an edit
 * that changes nothing stores and publishes nothing. The checks run inside the change, so they are
 * made again on the fresh copy when a reservation lands between the read and the save. Null when
 * there is no such ticket.
 */
export async function editTicket(
  relay: OutboxRelay,
  id: string,
  edit: { userId: string; title: string; priceCents: number },
): Promise<{ ticket: TicketDoc; outcome: EditOutcome } | null> {
  return decideOnTicket(relay, id, (t): Decision<EditOutcome> => {
    const outcome = decideEdit(t, edit);
    if (outcome !== 'updated') return { outcome, changed: false };
    t.title = edit.title;
    t.priceCents = edit.priceCents;
    return { outcome, changed: true };
  });
}

function decideEdit(ticket: TicketDoc, edit: { userId: string; title: string; priceCents: number }): EditOutcome {
  if (ticket.userId !== edit.userId) return 'not-seller';
  if (ticket.sold === true) return 'sold';
  if (ticket.orderId !== undefined) return 'reserved';
  if (ticket.title === edit.title && ticket.priceCents === edit.priceCents) return 'unchanged';
  return 'updated';
}

export type OrderNewsOutcome = 'recorded' | 'no-news';

/**
 * Records an order's new state on its ticket and lets the ticket derive its holder (see holderOf
 * in the model): whatever the delivery order of the events of a ticket's orders, with duplicates,
 * the ticket ends holding what the orders service says holds it. News is a change (version bump,
 * ticket:updated); a duplicate or older news changes nothing. Null when there is no such ticket.
 */
export async function recordOrderOnTicket(
  relay: OutboxRelay,
  ticketId: string,
  order: KnownOrder,
): Promise<{ ticket: TicketDoc; outcome: OrderNewsOutcome } | null> {
  return decideOnTicket(relay, ticketId, (t): Decision<OrderNewsOutcome> => {
    const news = recordOrderEvent(t, order);
    return { outcome: news ? 'recorded' : 'no-news', changed: news };
  });
}
