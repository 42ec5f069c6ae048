import { FormatRegistry, Type, type Static, type TLiteral, type TObject, type TProperties } from '@sinclair/typebox';
import { OrderStatus, Subjects } from './subjects';

/**
 * The contracts of the bus: one TypeBox schema per event, the only definition of its payload. The
 * TypeScript type (TicketCreatedEvent, …) is derived from it with Static, and validate.ts compiles
 * the same schema into the check every listener runs on what it receives: a payload that fails it is
 * poison. Fields a schema does not name are allowed (a newer publisher may add some).
 *
 * Prices travel as decimal numbers with at most two decimals (19.99); use toCents() before doing
 * arithmetic with them. Dates travel as ISO-8601 strings.
 */

/** A MongoDB ObjectId in hex, either case. */
const Id = Type.String({ pattern: '^[a-fA-F0-9]{24}$' });
/** The owner's version of the record: a non-negative integer. */
const Version = Type.Integer({ minimum: 0 });
const Text = Type.String({ minLength: 1 });
/** A positive finite number (the compiled check refuses NaN and Infinity). */
const Price = Type.Number({ exclusiveMinimum: 0 });

const PARSABLE_DATE = 'ticketing-parsable-date';
// Any string Date.parse reads: the publishers send toISOString(), the check only asks for a date.
FormatRegistry.Set(PARSABLE_DATE, (value) => !Number.isNaN(Date.parse(value)));
const DateString = Type.String({ format: PARSABLE_DATE });

/** The schema of one event: its subject (a literal: the wire contract) and its payload. */
const event = <S extends Subjects, P extends TProperties>(subject: S, data: P) =>
  Type.Object({ subject: Type.Literal(subject), data: Type.Object(data) });

export const TicketCreatedSchema = event(Subjects.TicketCreated, {
  id: Id,
  version: Version,
  title: Text,
  price: Price,
  userId: Text,
});
export type TicketCreatedEvent = Static<typeof TicketCreatedSchema>;

export const TicketUpdatedSchema = event(Subjects.TicketUpdated, {
  id: Id,
  version: Version,
  title: Text,
  price: Price,
  userId: Text,
  /** The order holding the ticket (active or complete); absent while it is for sale. */
  orderId: Type.Optional(Id),
  /** True once the holding order is complete: sold for good. Absent otherwise. */
  sold: Type.Optional(Type.Boolean()),
});
export type TicketUpdatedEvent = Static<typeof TicketUpdatedSchema>;

export const OrderCreatedSchema = event(Subjects.OrderCreated, {
  id: Id,
  version: Version,
  status: Type.Enum(OrderStatus),
  userId: Text,
  expiresAt: DateString,
  ticket: Type.Object({ id: Id, price: Price }),
});
export type OrderCreatedEvent = Static<typeof OrderCreatedSchema>;

export const OrderCancelledSchema = event(Subjects.OrderCancelled, {
  id: Id,
  version: Version,
  ticket: Type.Object({ id: Id }),
});
export type OrderCancelledEvent = Static<typeof OrderCancelledSchema>;

export const OrderCompletedSchema = event(Subjects.OrderCompleted, {
  id: Id,
  version: Version,
  ticket: Type.Object({ id: Id }),
});
export type OrderCompletedEvent = Static<typeof OrderCompletedSchema>;

export const ExpirationCompleteSchema = event(Subjects.ExpirationComplete, { orderId: Id });
export type ExpirationCompleteEvent = Static<typeof ExpirationCompleteSchema>;

export const PaymentCreatedSchema = event(Subjects.PaymentCreated, { id: Id, orderId: Id, stripeId: Text });
export type PaymentCreatedEvent = Static<typeof PaymentCreatedSchema>;

/**
 * A session was ended (signout): every service refuses its token from now on. `id` is the session id
 * (the token's `sid`); `expiresAt` is when the token expires anyway, after which nobody keeps it.
 */
export const SessionRevokedSchema = event(Subjects.SessionRevoked, { id: Id, userId: Text, expiresAt: DateString });
export type SessionRevokedEvent = Static<typeof SessionRevokedSchema>;

/** Every event's schema by subject: what validate.ts compiles. */
export const eventSchemas = {
  [Subjects.TicketCreated]: TicketCreatedSchema,
  [Subjects.TicketUpdated]: TicketUpdatedSchema,
  [Subjects.OrderCreated]: OrderCreatedSchema,
  [Subjects.OrderCancelled]: OrderCancelledSchema,
  [Subjects.OrderCompleted]: OrderCompletedSchema,
  [Subjects.ExpirationComplete]: ExpirationCompleteSchema,
  [Subjects.PaymentCreated]: PaymentCreatedSchema,
  [Subjects.SessionRevoked]: SessionRevokedSchema,
} as const satisfies { [S in Subjects]: TObject<{ subject: TLiteral<S>; data: TObject }> };

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
