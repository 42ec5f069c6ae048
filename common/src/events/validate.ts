import { OrderStatus, Subjects, assertNever } from './subjects';
import type { EventData } from './events';

/**
 * Payload checks at the edge of every listener: a message that does not match its contract is
 * poison (it will never succeed), so the listener logs and acks it instead of crashing or looping.
 */
type Check = (v: unknown) => boolean;

const OBJECT_ID = /^[a-f0-9]{24}$/i;
const isId: Check = (v) => typeof v === 'string' && OBJECT_ID.test(v);
const isVersion: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const isText: Check = (v) => typeof v === 'string' && v.length > 0;
const isPrice: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isIsoDate: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isBoolean: Check = (v) => typeof v === 'boolean';
const isStatus: Check = (v) => Object.values(OrderStatus).includes(v as OrderStatus);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
const shape =
  (fields: Record<string, Check>): Check =>
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Object.entries(fields).every(([key, check]) => check((v as Record<string, unknown>)[key]));

function checkFor(subject: Subjects): Check {
  switch (subject) {
    case Subjects.TicketCreated:
      return shape({ id: isId, version: isVersion, title: isText, price: isPrice, userId: isText });
    case Subjects.TicketUpdated:
      return shape({
        id: isId,
        version: isVersion,
        title: isText,
        price: isPrice,
        userId: isText,
        orderId: optional(isId),
        sold: optional(isBoolean),
      });
    case Subjects.OrderCreated:
      return shape({
        id: isId,
        version: isVersion,
        status: isStatus,
        userId: isText,
        expiresAt: isIsoDate,
        ticket: shape({ id: isId, price: isPrice }),
      });
    case Subjects.OrderCancelled:
    case Subjects.OrderCompleted:
      return shape({ id: isId, version: isVersion, ticket: shape({ id: isId }) });
    case Subjects.ExpirationComplete:
      return shape({ orderId: isId });
    case Subjects.PaymentCreated:
      return shape({ id: isId, orderId: isId, stripeId: isText });
    case Subjects.SessionRevoked:
      return shape({ id: isId, userId: isText, expiresAt: isIsoDate });
    default:
      return assertNever(subject);
  }
}

const checks = new Map<Subjects, Check>(Object.values(Subjects).map((s) => [s, checkFor(s)]));

export function isValidEventData<S extends Subjects>(subject: S, data: unknown): data is EventData<S> {
  return checks.get(subject)?.(data) ?? false;
}
