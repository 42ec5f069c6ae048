import type { OrderStatus, Subjects } from './subjects';

/**
 * The typed contracts of the bus. Prices travel as decimal numbers with at most two decimals
 * (19.99); use toCents() before doing arithmetic with them. Dates travel as ISO-8601 strings.
 */
export interface TicketCreatedEvent {
  subject: Subjects.TicketCreated;
  data: { id: string; version: number; title: string; price: number; userId: string };
}

export interface TicketUpdatedEvent {
  subject: Subjects.TicketUpdated;
  data: {
    id: string;
    version: number;
    title: string;
    price: number;
    userId: string;
    /** The order holding the ticket (active or complete); absent while it is for sale. */
    orderId?: string;
    /** True once the holding order is complete: sold for good. Absent otherwise. */
    sold?: boolean;
  };
}

export interface OrderCreatedEvent {
  subject: Subjects.OrderCreated;
  data: {
    id: string;
    version: number;
    status: OrderStatus;
    userId: string;
    expiresAt: string;
    ticket: { id: string; price: number };
  };
}

export interface OrderCancelledEvent {
  subject: Subjects.OrderCancelled;
  data: { id: string; version: number; ticket: { id: string } };
}

export interface OrderCompletedEvent {
  subject: Subjects.OrderCompleted;
  data: { id: string; version: number; ticket: { id: string } };
}

export interface ExpirationCompleteEvent {
  subject: Subjects.ExpirationComplete;
  data: { orderId: string };
}

export interface PaymentCreatedEvent {
  subject: Subjects.PaymentCreated;
  data: { id: string; orderId: string; stripeId: string };
}

/**
 * A session was ended (signout): every service refuses its token from now on. `id` is the session id
 * (the token's `sid`); `expiresAt` is when the token expires anyway, after which nobody keeps it.
 */
export interface SessionRevokedEvent {
  subject: Subjects.SessionRevoked;
  data: { id: string; userId: string; expiresAt: string };
}

export type BusEvent =
  | TicketCreatedEvent
  | TicketUpdatedEvent
  | OrderCreatedEvent
  | OrderCancelledEvent
  | OrderCompletedEvent
  | ExpirationCompleteEvent
  | PaymentCreatedEvent
  | SessionRevokedEvent;

/** The payload type of a subject: EventData<Subjects.OrderCreated> is OrderCreatedEvent['data']. */
export type EventData<S extends Subjects> = Extract<BusEvent, { subject: S }>['data'];

/** What travels on the wire: the payload plus metadata for tracing and de-duplication. */
export interface EventEnvelope<S extends Subjects = Subjects> {
  /** Unique per event (stable across re-publishes from the outbox). */
  id: string;
  subject: S;
  time: string;
  requestId?: string;
  data: EventData<S>;
}
