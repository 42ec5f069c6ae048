/**
 * Every machine code an error body can carry (`errors[].code`), in one union so that a typo is a
 * compile error and a client developer can read the whole list in one place. The README's API
 * section documents when each is answered.
 */
export type ErrorCode =
  // Any service: request shape and infrastructure.
  | 'BAD_REQUEST'
  | 'VALIDATION_FAILED'
  | 'INVALID_VALUE'
  | 'INVALID_CURSOR'
  | 'MALFORMED_JSON'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_ENCODING'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'NOT_AUTHORIZED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'VERSION_CONFLICT'
  | 'DUPLICATE'
  | 'TOO_MANY_REQUESTS'
  | 'SERVICE_UNAVAILABLE'
  | 'BUS_UNAVAILABLE'
  | 'INTERNAL'
  // auth
  | 'EMAIL_IN_USE'
  | 'INVALID_CREDENTIALS'
  // tickets
  | 'TICKET_NOT_FOUND'
  | 'TICKET_RESERVED'
  | 'TICKET_SOLD'
  // orders
  | 'ORDER_NOT_FOUND'
  | 'ORDER_CANCELLED'
  | 'ORDER_COMPLETE'
  | 'ORDER_EXPIRED'
  | 'CANNOT_BUY_OWN_TICKET'
  | 'TOO_MANY_ACTIVE_ORDERS'
  | 'ORDER_CONTENTION'
  // payments
  | 'INVALID_PAYMENT_TOKEN'
  | 'PAYMENT_IN_PROGRESS'
  | 'PAYMENT_DECLINED'
  | 'PAYMENT_NOT_COMPLETED'
  | 'PAYMENT_PROVIDER_ERROR'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  // the entry point (the gateway of `npm start`)
  | 'UPSTREAM_STARTING'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE';

/** True for MongoDB's duplicate key error (E11000), whichever driver layer threw it. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}
