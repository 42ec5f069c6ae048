import { isDuplicateKeyError, runExclusive, type Logger } from '@ticketing/common';
import type { Types } from 'mongoose';
import { Order, orderJson, type OrderDoc, type OrderRow } from '../models/order';
import { Ticket, ticketJson, type TicketAttrs } from '../models/ticket';
import { UserOrders } from '../models/user-orders';

/**
 * Each user's list of orders, for GET /api/orders: a document per user, addressed by the user's id
 * (models/user-orders.ts), that holds the ids of their orders. A page is then read by bare `_id`
 * lookups only: the list, the orders on the page, their tickets.
 *
 * Why not a query: a server without indexed filters (ServerProfile.indexedFilters: the embedded
 * default) pushes down only a bare `_id` equality, so `{ userId }` sorted by `_id` scans every order
 * of every user on each request, a cost that grows with the whole collection. On MongoDB that query would be cheap with an index on
 * `{ userId: 1, _id: -1 }`; these `_id` reads are as cheap there, so one design serves both servers.
 *
 * Why a document and not a list in memory (what the tickets listing does): an order is listed by
 * the write that records it, before POST /api/orders answers, so its creator sees it in the next
 * page whichever replica answers (read-your-writes), with no bus subscription per replica and
 * nothing to rebuild before a replica can answer.
 *
 * The order is inserted first and listed second. A crash between the two leaves an order unlisted
 * (its POST got no answer); the scan at start (reconcileOrderIndex) lists it. Ids are only ever
 * added, and a list read checks every order again (its owner, its existence), so a stale or
 * foreign id can never show.
 *
 * Concurrency: on MongoDB `$addToSet` is atomic, so concurrent orders of one user, on any replica,
 * are all recorded. A server without atomic conditional writes (ServerProfile) applies an update by
 * reading the document and rewriting it, so within
 * a process the updates of one user's list run one at a time (runExclusive), as every
 * read-modify-write of this project does; two replicas on such a server recording orders of the same user
 * at the same instant could lose one, which the scan at the next start puts back.
 */

function listKey(userId: string): string {
  return `user-orders:${userId}`;
}

/** Adds order ids to the user's list (idempotent), creating the list on the user's first order. */
function addToList(userId: string, orderIds: Types.ObjectId[]): Promise<void> {
  return runExclusive(listKey(userId), async () => {
    const update = { $addToSet: { orders: { $each: orderIds } } };
    try {
      await UserOrders.updateOne({ _id: userId }, update, { upsert: true });
    } catch (err) {
      // Two first orders at once (on two replicas): one upsert inserted, the other now updates.
      if (!isDuplicateKeyError(err)) throw err;
      await UserOrders.updateOne({ _id: userId }, update);
    }
  });
}

/** Lists a just-stored order in its user's list: called once its insert succeeded, before the answer. */
export function recordOrder(order: Pick<OrderDoc, '_id' | 'userId'>): Promise<void> {
  return addToList(order.userId, [order._id]);
}

/** An order of a page: its id (for the cursor) and what the API shows of it, its ticket included. */
export interface ListedOrder {
  _id: Types.ObjectId;
  json: Record<string, unknown>;
}

/**
 * Up to `limit` + 1 of the user's orders with an id below `before`, newest first, each with its
 * ticket (the extra one only tells that another page follows: see pageOf). One read of the list,
 * then reads by `_id`: the cost grows with this user's orders (the list's size), never with anyone
 * else's. Each order's ticket is read as soon as the order arrives (one read per distinct ticket;
 * populate's `$in` is a collection scan without indexed filters): two round trips after the list's, not three.
 * The reads are lean (nothing here is saved back): hydrating Mongoose documents was most of a
 * page's cost beyond the reads themselves.
 */
export async function ordersOfUser(userId: string, limit: number, before?: string): Promise<ListedOrder[]> {
  const list = await UserOrders.findById(userId, { orders: 1 }).lean();
  // ObjectIds as 24 hex digits sort as the ids do (by creation time first).
  const ids = [...new Set((list?.orders ?? []).map((id) => String(id)))]
    .filter((id) => before === undefined || id < before)
    .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const tickets = new Map<string, Promise<TicketAttrs | null>>();
  const withTicket = async (order: OrderRow): Promise<ListedOrder> => {
    const id = order.ticket.toHexString();
    let read = tickets.get(id);
    if (read === undefined) {
      // exec(): a promise, awaited by every order of this ticket (a query would run again, and fail).
      read = Ticket.findById(id).lean<TicketAttrs>().exec();
      tickets.set(id, read);
    }
    const ticket = await read;
    // A missing ticket leaves its id, as GET /api/orders/:id does.
    return { _id: order._id, json: orderJson(order, ticket === null ? order.ticket : ticketJson(ticket)) };
  };
  const found: ListedOrder[] = [];
  // One order more than the page tells whether another page exists.
  for (let next = 0; found.length < limit + 1 && next < ids.length;) {
    const batch = ids.slice(next, next + limit + 1 - found.length);
    next += batch.length;
    const docs = await Promise.all(
      batch.map(async (id) => {
        const order = await Order.findById(id).lean<OrderRow>().exec();
        // Checked again: an id in the list that is not an order of this user is never shown.
        return order === null || order.userId !== userId ? null : withTicket(order);
      }),
    );
    for (const doc of docs) if (doc !== null) found.push(doc);
  }
  return found;
}

/**
 * Lists every stored order its user's list lacks: orders stored before the lists existed, an order
 * whose process stopped between its insert and its listing, an update lost on FerretDB across
 * replicas. One pass over the orders (`_id` and `userId` only), then a read by `_id` of each
 * user's list and a write only where something is missing. Run at start, in the background: the
 * lists are already right for every order stored by this version, so requests need not wait.
 */
export async function reconcileOrderIndex(logger: Logger): Promise<{ orders: number; users: number; added: number }> {
  const started = Date.now();
  const byUser = new Map<string, Types.ObjectId[]>();
  let orders = 0;
  const cursor = Order.find({}, { _id: 1, userId: 1 }).lean<{ _id: Types.ObjectId; userId: string }>().cursor();
  for await (const row of cursor) {
    orders += 1;
    const ids = byUser.get(row.userId);
    if (ids === undefined) byUser.set(row.userId, [row._id]);
    else ids.push(row._id);
  }
  let added = 0;
  for (const [userId, ids] of byUser) {
    const list = await UserOrders.findById(userId, { orders: 1 }).lean();
    const known = new Set((list?.orders ?? []).map((id) => String(id)));
    const missing = ids.filter((id) => !known.has(String(id)));
    if (missing.length === 0) continue;
    await addToList(userId, missing);
    added += missing.length;
  }
  const result = { orders, users: byUser.size, added };
  logger.info({ ...result, ms: Date.now() - started }, 'order lists reconciled');
  return result;
}
