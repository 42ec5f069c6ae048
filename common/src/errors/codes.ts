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

/**
 * The fields of the unique index a duplicate key error (E11000) names, or undefined when the server
 * does not say: MongoDB gives the index's `keyPattern`; FerretDB 1.24 names only the collection, so
 * there the caller must read to learn which index refused.
 */
export function duplicateKeyFields(err: unknown): string[] | undefined {
  if (!isDuplicateKeyError(err)) return undefined;
  const pattern = (err as { keyPattern?: unknown }).keyPattern;
  if (typeof pattern !== 'object' || pattern === null) return undefined;
  const fields = Object.keys(pattern);
  return fields.length > 0 ? fields : undefined;
}

/** True for MongoDB's duplicate key error (E11000), whichever driver layer threw it. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}
