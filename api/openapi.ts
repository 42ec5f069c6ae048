/**
 * The OpenAPI 3.1 document of the public API (everything under /api behind the gateway or the
 * Ingress), built from the tables below. The gateway of `npm start` serves it at /api/openapi.json
 * and as a page at /api/docs. Two tests keep it true: api/openapi.test.ts compares its paths with
 * the routes the services' Express apps mount, and the e2e client (test/e2e/harness.ts) validates
 * every response body it receives against the schema of its route and status.
 *
 * To describe a change: add or edit a schema in `schemas`, or an operation in `operations` (its
 * responses by status; error statuses list their machine codes).
 */

/* eslint-disable max-lines -- a table of every route, status and schema: split by service, each
   part would still be read with the others, and the tests compare it whole. */
import type { ErrorCode } from '@ticketing/common';

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = { [key: string]: unknown };

const ref = (name: keyof typeof schemas): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const OBJECT_ID = { type: 'string', pattern: '^[a-f0-9]{24}$', description: 'A MongoDB ObjectId' };
const PRICE = {
  type: 'number',
  exclusiveMinimum: 0,
  description: 'In dollars, at most two decimals (stored as integer cents)',
};

/** Closed objects: a field the document does not list makes a response invalid. */
function object(properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false };
}

export const schemas = {
  Error: object({
    errors: {
      type: 'array',
      minItems: 1,
      items: object(
        {
          message: { type: 'string' },
          code: { type: 'string', description: 'Stable machine code (see each response)' },
          field: { type: 'string', description: 'The request field at fault, when there is one' },
        },
        ['message'],
      ),
    },
  }),
  Credentials: object({
    email: { type: 'string', format: 'email' },
    password: { type: 'string', minLength: 8, maxLength: 128 },
  }),
  User: object({ id: OBJECT_ID, email: { type: 'string', format: 'email' } }),
  CurrentUser: object({
    currentUser: {
      oneOf: [
        object(
          {
            id: OBJECT_ID,
            email: { type: 'string', format: 'email' },
          },
          ['id', 'email'],
        ),
        { type: 'null' },
      ],
    },
  }),
  Empty: object({}),
  TicketInput: object({ title: { type: 'string', minLength: 1 }, price: PRICE }),
  Ticket: object(
    {
      id: OBJECT_ID,
      title: { type: 'string' },
      price: PRICE,
      userId: OBJECT_ID,
      version: { type: 'integer', minimum: 0 },
      orderId: { ...OBJECT_ID, description: 'Set while an order holds the ticket' },
      sold: { const: true, description: 'Present once the ticket is paid for' },
    },
    ['id', 'title', 'price', 'userId', 'version'],
  ),
  TicketPage: object({
    tickets: { type: 'array', items: { $ref: '#/components/schemas/Ticket' } },
    nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last' },
  }),
  OrderInput: object({ ticketId: OBJECT_ID }),
  OrderTicket: object({
    id: OBJECT_ID,
    title: { type: 'string' },
    price: PRICE,
    userId: { ...OBJECT_ID, description: 'The seller' },
    version: { type: 'integer', minimum: 0 },
  }),
  Order: object(
    {
      id: OBJECT_ID,
      userId: OBJECT_ID,
      status: { enum: ['created', 'awaiting:payment', 'complete', 'cancelled'] },
      expiresAt: { type: 'string', format: 'date-time' },
      price: { ...PRICE, description: 'The price the order was created with' },
      version: { type: 'integer', minimum: 0 },
      ticket: { $ref: '#/components/schemas/OrderTicket' },
      createdAt: { type: 'string', format: 'date-time' },
    },
    ['id', 'userId', 'status', 'expiresAt', 'price', 'version', 'ticket'],
  ),
  OrderPage: object({
    orders: { type: 'array', items: { $ref: '#/components/schemas/Order' } },
    nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last' },
  }),
  OrderUpdate: object({ status: { const: 'cancelled' } }),
  PaymentInput: object({
    orderId: OBJECT_ID,
    token: { type: 'string', pattern: '^[A-Za-z0-9_]{1,255}$', description: 'tok_... or pm_...' },
  }),
  PaymentSucceeded: object({ id: OBJECT_ID, status: { const: 'succeeded' } }),
  PaymentPending: object({ id: OBJECT_ID, status: { const: 'pending' } }),
} satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof schemas;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** The body's schema; error statuses use Error. */
  schema: SchemaName;
  /** Machine codes an error response may carry (common's ErrorCode: a typo does not compile). */
  codes?: ErrorCode[];
  /** Response headers worth telling (Set-Cookie, Retry-After). */
  headers?: string[];
}

export interface OperationSpec {
  method: HttpMethod;
  /** OpenAPI form: /api/tickets/{id}. */
  path: string;
  /** The service that mounts the route. */
  service: 'auth' | 'tickets' | 'orders' | 'payments';
  summary: string;
  /** none: anyone; user: a session cookie; owner: the session of the resource's owner. */
  auth: 'none' | 'user' | 'owner';
  body?: SchemaName;
  query?: Array<{ name: string; schema: JsonSchema; description: string }>;
  responses: Record<number, ResponseSpec>;
}

// Answers many routes share.
const invalid = (...codes: ErrorCode[]): ResponseSpec => ({
  description: 'The request is invalid (each error names its field)',
  schema: 'Error',
  codes: ['VALIDATION_FAILED', ...codes],
});
const signedOut: ResponseSpec = { description: 'No valid session cookie', schema: 'Error', codes: ['NOT_AUTHORIZED'] };
const rateLimited: ResponseSpec = {
  description: 'Too many attempts from this client address in the last minute',
  schema: 'Error',
  codes: ['TOO_MANY_REQUESTS'],
  headers: ['Retry-After'],
};
/** The body is not JSON, too large or in an unsupported encoding: any route that reads a body. */
const BODY_CODES: ErrorCode[] = ['MALFORMED_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_ENCODING'];
const ID_PARAM: ErrorCode = 'INVALID_VALUE';

const unavailable: ResponseSpec = {
  description: 'The database is unreachable for a moment: retry shortly',
  schema: 'Error',
  codes: ['SERVICE_UNAVAILABLE'],
};

/** Routes that read or write the database may answer 503 while it is away (unless they say more). */
const withUnavailable = (op: OperationSpec): OperationSpec =>
  op.path === '/api/users/currentuser' || op.responses[503] !== undefined
    ? op
    : { ...op, responses: { ...op.responses, 503: unavailable } };

const OPERATIONS: OperationSpec[] = [
  {
    method: 'post',
    path: '/api/users/signup',
    service: 'auth',
    summary: 'Create an account and sign in',
    auth: 'none',
    body: 'Credentials',
    responses: {
      201: { description: 'Signed up; the session cookie is set', schema: 'User', headers: ['Set-Cookie'] },
      400: invalid('EMAIL_IN_USE', ...BODY_CODES),
      429: rateLimited,
    },
  },
  {
    method: 'post',
    path: '/api/users/signin',
    service: 'auth',
    summary: 'Sign in',
    auth: 'none',
    body: 'Credentials',
    responses: {
      200: { description: 'Signed in; the session cookie is set', schema: 'User', headers: ['Set-Cookie'] },
      400: invalid('INVALID_CREDENTIALS', ...BODY_CODES),
      429: rateLimited,
    },
  },
  {
    method: 'post',
    path: '/api/users/signout',
    service: 'auth',
    summary: 'Sign out: clears the cookie and ends the session on every service (session:revoked)',
    auth: 'none',
    responses: { 200: { description: 'Signed out', schema: 'Empty', headers: ['Set-Cookie'] } },
  },
  {
    method: 'get',
    path: '/api/users/currentuser',
    service: 'auth',
    summary: 'Who the session cookie belongs to',
    auth: 'none',
    responses: { 200: { description: 'The signed-in user, or null', schema: 'CurrentUser' } },
  },
  {
    method: 'post',
    path: '/api/tickets',
    service: 'tickets',
    summary: 'Put a ticket up for sale',
    auth: 'user',
    body: 'TicketInput',
    responses: {
      201: { description: 'Listed; ticket:created is published', schema: 'Ticket' },
      400: invalid(...BODY_CODES),
      401: signedOut,
    },
  },
  {
    method: 'get',
    path: '/api/tickets',
    service: 'tickets',
    summary: 'Tickets for sale (not reserved, not sold), newest first, one page at a time',
    auth: 'none',
    query: [
      { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, description: 'Page size' },
      { name: 'cursor', schema: { type: 'string' }, description: 'nextCursor of the previous page' },
    ],
    responses: {
      200: { description: 'A page of tickets', schema: 'TicketPage' },
      400: invalid('INVALID_CURSOR'),
    },
  },
  {
    method: 'get',
    path: '/api/tickets/{id}',
    service: 'tickets',
    summary: 'One ticket',
    auth: 'none',
    responses: {
      200: { description: 'The ticket', schema: 'Ticket' },
      400: invalid(ID_PARAM),
      404: { description: 'No such ticket', schema: 'Error', codes: ['TICKET_NOT_FOUND'] },
    },
  },
  {
    method: 'put',
    path: '/api/tickets/{id}',
    service: 'tickets',
    summary: 'Edit a ticket (its seller only, while no order holds it)',
    auth: 'owner',
    body: 'TicketInput',
    responses: {
      200: { description: 'Edited; ticket:updated is published', schema: 'Ticket' },
      400: invalid(ID_PARAM, 'TICKET_RESERVED', 'TICKET_SOLD', ...BODY_CODES),
      401: signedOut,
      403: { description: 'Not the seller', schema: 'Error', codes: ['FORBIDDEN'] },
      404: { description: 'No such ticket', schema: 'Error', codes: ['TICKET_NOT_FOUND'] },
      409: { description: 'Changed concurrently: reload and retry', schema: 'Error', codes: ['VERSION_CONFLICT'] },
    },
  },
  {
    method: 'post',
    path: '/api/orders',
    service: 'orders',
    summary: 'Reserve a ticket: an order that holds it until expiresAt',
    auth: 'user',
    body: 'OrderInput',
    responses: {
      201: { description: 'Reserved; order:created is published', schema: 'Order' },
      400: invalid('TICKET_RESERVED', 'CANNOT_BUY_OWN_TICKET', 'TOO_MANY_ACTIVE_ORDERS', ...BODY_CODES),
      401: signedOut,
      404: { description: 'No such ticket (or not known to orders yet)', schema: 'Error', codes: ['TICKET_NOT_FOUND'] },
      409: {
        description: "Too many of the user's orders raced for a slot: retry",
        schema: 'Error',
        codes: ['ORDER_CONTENTION'],
      },
    },
  },
  {
    method: 'get',
    path: '/api/orders',
    service: 'orders',
    summary: "The caller's orders, newest first, with their tickets, one page at a time",
    auth: 'user',
    query: [
      { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, description: 'Page size' },
      { name: 'cursor', schema: { type: 'string' }, description: 'nextCursor of the previous page' },
    ],
    responses: {
      200: { description: 'A page of orders', schema: 'OrderPage' },
      400: invalid('INVALID_CURSOR'),
      401: signedOut,
    },
  },
  {
    method: 'get',
    path: '/api/orders/{id}',
    service: 'orders',
    summary: 'One of the caller’s orders',
    auth: 'owner',
    responses: {
      200: { description: 'The order', schema: 'Order' },
      400: invalid(ID_PARAM),
      401: signedOut,
      404: { description: 'No such order of this user', schema: 'Error', codes: ['ORDER_NOT_FOUND'] },
    },
  },
  {
    method: 'patch',
    path: '/api/orders/{id}',
    service: 'orders',
    summary: 'Cancel an order (the only change a user may make)',
    auth: 'owner',
    body: 'OrderUpdate',
    responses: {
      200: { description: 'Cancelled (or already was); order:cancelled is published', schema: 'Order' },
      400: invalid(ID_PARAM, 'ORDER_COMPLETE', ...BODY_CODES),
      401: signedOut,
      404: { description: 'No such order of this user', schema: 'Error', codes: ['ORDER_NOT_FOUND'] },
      409: { description: 'Changed concurrently: retry', schema: 'Error', codes: ['VERSION_CONFLICT'] },
    },
  },
  {
    method: 'post',
    path: '/api/payments',
    service: 'payments',
    summary: 'Pay for an order with a card token (asking again never charges twice)',
    auth: 'owner',
    body: 'PaymentInput',
    responses: {
      201: { description: 'Charged; payment:created is published', schema: 'PaymentSucceeded' },
      200: { description: 'Paid by an earlier request: the same payment', schema: 'PaymentSucceeded' },
      202: {
        description: 'Accepted, outcome not known yet: the reconciler settles it with Stripe',
        schema: 'PaymentPending',
      },
      400: invalid('ORDER_CANCELLED', 'ORDER_COMPLETE', 'ORDER_EXPIRED', 'INVALID_PAYMENT_TOKEN', ...BODY_CODES),
      401: signedOut,
      402: {
        description: 'The card was declined, or the payment did not complete (e.g. needs authentication)',
        schema: 'Error',
        codes: ['PAYMENT_DECLINED', 'PAYMENT_NOT_COMPLETED'],
      },
      404: {
        description: "No such order, another user's order, or not known to payments yet",
        schema: 'Error',
        codes: ['ORDER_NOT_FOUND'],
      },
      502: { description: 'Stripe did not answer usably', schema: 'Error', codes: ['PAYMENT_PROVIDER_ERROR'] },
      503: {
        description: 'Stripe or the database cannot be reached right now, or another payment of the order is starting',
        schema: 'Error',
        codes: ['PAYMENT_PROVIDER_UNAVAILABLE', 'PAYMENT_IN_PROGRESS', 'SERVICE_UNAVAILABLE'],
      },
    },
  },
];

export const operations: OperationSpec[] = OPERATIONS.map(withUnavailable);

function describeResponse(spec: ResponseSpec): JsonSchema {
  const codes = spec.codes === undefined ? '' : ` (code: ${spec.codes.map((c) => `\`${c}\``).join(', ')})`;
  return {
    description: `${spec.description}${codes}`,
    ...(spec.headers === undefined
      ? {}
      : { headers: Object.fromEntries(spec.headers.map((h) => [h, { schema: { type: 'string' } }])) }),
    content: { 'application/json': { schema: ref(spec.schema) } },
    ...(spec.codes === undefined ? {} : { 'x-error-codes': spec.codes }),
  };
}

function describeOperation(op: OperationSpec): JsonSchema {
  const pathParams = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: OBJECT_ID,
  }));
  const queryParams = (op.query ?? []).map((q) => ({ in: 'query', required: false, ...q }));
  return {
    operationId: `${op.method}${op.path.replace(/\/api|[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())}`,
    summary: op.summary,
    tags: [op.service],
    ...(op.auth === 'none' ? {} : { security: [{ session: [] }] }),
    ...(pathParams.length + queryParams.length === 0 ? {} : { parameters: [...pathParams, ...queryParams] }),
    ...(op.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } }),
    responses: Object.fromEntries(
      Object.entries(op.responses).map(([status, spec]) => [status, describeResponse(spec)]),
    ),
    ...(op.auth === 'owner' ? { 'x-auth': 'owner: only the resource’s owner' } : {}),
  };
}

export function buildOpenApi(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of operations) (paths[op.path] ??= {})[op.method] = describeOperation(op);
  return {
    openapi: '3.1.0',
    info: {
      title: 'ticketing',
      version: '1.0.0',
      description:
        'A ticket resale marketplace. Every route is under /api; bodies are JSON; errors are ' +
        '`{ "errors": [{ "message", "code", "field"? }] }`. The public entry (the gateway of `npm start`, ' +
        'the Ingress in a cluster) may also answer 502 `UPSTREAM_UNAVAILABLE`, 503 `UPSTREAM_STARTING` ' +
        'and 504 `UPSTREAM_TIMEOUT` on any route, in the same error shape; a path or method nobody ' +
        'serves answers 404 `ROUTE_NOT_FOUND`.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'auth', description: 'Accounts and the session cookie' },
      { name: 'tickets', description: 'Tickets for sale' },
      { name: 'orders', description: 'Reservations' },
      { name: 'payments', description: 'Paying for an order' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'session',
          description: 'Set by signup and signin (a JWT in a cookie-session)',
        },
      },
    },
  };
}

export const openApiDocument = buildOpenApi();
