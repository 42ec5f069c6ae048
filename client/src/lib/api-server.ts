import { headers } from 'next/headers';
import { cache } from 'react';
import { baseUrlFor, config } from './config';
import type { CurrentUser, Order, Ticket, TicketPage } from './types';

/**
 * The API as server-side rendering calls it: the browser's Cookie header forwarded (so the page is
 * rendered for the signed-in user), plus the browser's address and the request id, as the entry point
 * would have added them.
 */

export type ApiResult<T> = { ok: true; status: number; body: T } | { ok: false; status: number; body: unknown };

export async function apiGet<T>(path: string): Promise<ApiResult<T>> {
  const incoming = await headers();
  const forwarded: Record<string, string> = { accept: 'application/json' };
  const cookie = incoming.get('cookie');
  if (cookie !== null && cookie !== '') forwarded['cookie'] = cookie;
  const requestId = incoming.get('x-request-id');
  if (requestId !== null) forwarded['x-request-id'] = requestId;
  const forwardedFor = incoming.get('x-forwarded-for');
  if (forwardedFor !== null) forwarded['x-forwarded-for'] = forwardedFor;
  const { apiHost } = config();
  if (apiHost !== undefined) forwarded['host'] = apiHost;

  const res = await fetch(`${baseUrlFor(path)}${path}`, { headers: forwarded, cache: 'no-store' });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (an entry point's HTML error page): kept as text for the error message.
  }
  if (res.ok) return { ok: true, status: res.status, body: body as T };
  return { ok: false, status: res.status, body };
}

/** Thrown for an answer the page cannot render; Next shows app/error.tsx. */
export class ApiFailure extends Error {
  constructor(path: string, status: number, body: unknown) {
    super(`GET ${path} answered ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  }
}

/** The signed-in user, or null; asked once per request however many components want it. */
export const currentUser = cache(async (): Promise<CurrentUser | null> => {
  const res = await apiGet<{ currentUser: CurrentUser | null }>('/api/users/currentuser');
  if (!res.ok) throw new ApiFailure('/api/users/currentuser', res.status, res.body);
  return res.body.currentUser;
});

export async function ticketPage(cursor: string | undefined): Promise<TicketPage> {
  const query = new URLSearchParams({ limit: String(config().ticketsPageSize) });
  if (cursor !== undefined) query.set('cursor', cursor);
  const path = `/api/tickets?${query.toString()}`;
  const res = await apiGet<TicketPage>(path);
  if (!res.ok) throw new ApiFailure(path, res.status, res.body);
  return res.body;
}

/** The ticket, or null for an unknown (or malformed) id. */
export async function ticket(id: string): Promise<Ticket | null> {
  const path = `/api/tickets/${encodeURIComponent(id)}`;
  const res = await apiGet<Ticket>(path);
  if (res.ok) return res.body;
  if (res.status === 404 || res.status === 400) return null;
  throw new ApiFailure(path, res.status, res.body);
}

/** The user's orders, newest first: every page of GET /api/orders, up to MY_ORDERS_MAX. */
const MY_ORDERS_MAX = 500;

export async function myOrders(): Promise<Order[]> {
  const orders: Order[] = [];
  let cursor: string | null = null;
  do {
    const path: string = `/api/orders?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const res = await apiGet<{ orders: Order[]; nextCursor: string | null }>(path);
    if (!res.ok) throw new ApiFailure(path, res.status, res.body);
    orders.push(...res.body.orders);
    cursor = res.body.nextCursor;
  } while (cursor !== null && orders.length < MY_ORDERS_MAX);
  return orders;
}

/** The order, or null when it is unknown, malformed or someone else's. */
export async function order(id: string): Promise<Order | null> {
  const path = `/api/orders/${encodeURIComponent(id)}`;
  const res = await apiGet<Order>(path);
  if (res.ok) return res.body;
  if (res.status === 404 || res.status === 400 || res.status === 403) return null;
  throw new ApiFailure(path, res.status, res.body);
}
