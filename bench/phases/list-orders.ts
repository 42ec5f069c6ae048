import mongoose from 'mongoose';
import { cookieFor, newId } from '../lib/clients';
import { compare, type Compared } from '../lib/compare';
import { step } from '../lib/log';
import type { Row } from '../lib/report';
import { LIST_CONNECTIONS, LIST_GOAL_P50_MS, LIST_ORDERS_LARGE_SIZE, SECONDS } from '../lib/settings';
import { ratio, round } from '../lib/stats';
import type { BenchContext } from './context';

const LABEL = 'GET /api/orders?limit=20';
/** Orders per buyer in the seeded collection: the measured buyer has as many as everyone else. */
const ORDERS_PER_BUYER = 100;

/**
 * A buyer's first page of orders among LIST_ORDERS_LARGE_SIZE orders of other buyers, against its
 * physical path: 20 orders and their 20 tickets read by bare _id (the page reads them so, plus the
 * buyer's list of orders). The orders and each buyer's list are inserted straight into the orders
 * database, as POST /api/orders stores them (through the API it would take minutes, and each buyer
 * may hold only a few unpaid orders); they are cancelled or complete, so nothing expires or pays.
 * The query the route made before (`{ userId }` sorted by `_id`, a collection scan on FerretDB) is
 * timed three times, alone. Run near the end: FerretDB scans these orders in every `userId` query
 * after it (POST /api/orders makes one).
 */
export async function listOrdersLarge(ctx: BenchContext): Promise<void> {
  const { target, baseline, ordersDb, settle, raw, rows } = ctx;
  await settle(LABEL);
  const orders = ordersDb.collection('orders');
  const { buyers, measured, orderCount, seedMs } = await seedOrders(ordersDb, orders);

  step(`${LABEL} over ${orderCount} orders vs 20 orders and 20 tickets by _id...`);
  const spec = { method: 'GET', connections: LIST_CONNECTIONS, durationS: Math.max(SECONDS, 10) } as const;
  const list = await compare(
    { ...spec, url: `${baseline.url}/orders/by-id?limit=20` },
    { ...spec, url: `${target.urls.orders}/api/orders?limit=20`, headers: { cookie: cookieFor(target, measured) } },
  );
  const oldQuery = await timeOldQuery(orders, measured);
  raw['listOrdersLarge'] = { ...list, orderCount, buyers, seedMs, oldQueryMs: oldQuery };
  rows.push(...listRows(list, orderCount, buyers, oldQuery));
}

/** Seeds the orders database up to LIST_ORDERS_LARGE_SIZE orders; says how many buyers, and which one is measured. */
async function seedOrders(
  ordersDb: mongoose.mongo.Db,
  orders: mongoose.mongo.Collection,
): Promise<{ buyers: number; measured: string; orderCount: number; seedMs: number }> {
  const lists = ordersDb.collection<{ _id: string; orders: mongoose.Types.ObjectId[] }>('userorders');
  // Tickets of their own in the orders service's replica, each bought in many of these orders (a
  // page reads them by _id all the same).
  const tickets = Array.from({ length: 1_000 }, () => new mongoose.Types.ObjectId());
  await ordersDb.collection('tickets').insertMany(
    tickets.map((_id, i) => ({
      _id,
      title: `Bench order list ${i}`,
      priceCents: 2_000,
      userId: 'bench-orders',
      version: 0,
    })),
    { ordered: false },
  );
  const missing = Math.max(0, LIST_ORDERS_LARGE_SIZE - (await orders.estimatedDocumentCount()));
  const buyers = Array.from({ length: Math.max(1, Math.ceil(missing / ORDERS_PER_BUYER)) }, () => newId());
  const measured = buyers[0] as string;
  step(`inserting ${missing} orders of ${buyers.length} buyers for the orders list...`);
  const seedStarted = Date.now();
  const byBuyer = new Map<string, mongoose.Types.ObjectId[]>();
  for (let done = 0; done < missing;) {
    const batch = Math.min(2_000, missing - done);
    const docs = Array.from({ length: batch }, (_, i) => {
      const n = done + i;
      // Round-robin over the buyers: each buyer's orders are spread over the whole collection.
      const userId = buyers[n % buyers.length] as string;
      const _id = new mongoose.Types.ObjectId();
      const ids = byBuyer.get(userId) ?? [];
      ids.push(_id);
      byBuyer.set(userId, ids);
      const at = new Date();
      return {
        _id,
        userId,
        status: n % 3 === 0 ? 'complete' : 'cancelled',
        expiresAt: at,
        ticket: tickets[n % tickets.length],
        priceCents: 2_000,
        ticketLock: _id,
        userSlot: _id.toHexString(),
        version: 1,
        outbox: [],
        createdAt: at,
        updatedAt: at,
      };
    });
    await orders.insertMany(docs, { ordered: false });
    done += batch;
  }
  const entries = [...byBuyer].map(([_id, ids]) => ({ _id, orders: ids }));
  for (let i = 0; i < entries.length; i += 500) {
    await lists.insertMany(entries.slice(i, i + 500), { ordered: false });
  }
  const orderCount = await orders.estimatedDocumentCount();
  const seedMs = Date.now() - seedStarted;
  return { buyers: buyers.length, measured, orderCount, seedMs };
}

/** Times the query the route made before (`{ userId }` sorted by `_id`) three times, alone. */
async function timeOldQuery(orders: mongoose.mongo.Collection, measured: string): Promise<number[]> {
  const oldQuery: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const started = performance.now();
    await orders.find({ userId: measured }).sort({ _id: -1 }).limit(21).toArray();
    oldQuery.push(performance.now() - started);
  }
  return oldQuery;
}

/** The table's rows: the page's p50 (against the goal) and p99, and the old query's median. */
function listRows(list: Compared, orderCount: number, buyers: number, oldQuery: number[]): Row[] {
  const oldQueryMs = round([...oldQuery].sort((a, b) => a - b)[1] ?? Number.NaN);
  const failures = list.ours.non2xx + list.ours.errors;
  return [
    {
      figure: `${LABEL} p50 over ${orderCount} orders, vs 20 orders + 20 tickets by _id`,
      unit: 'ms',
      ours: list.ours.p50,
      baseline: list.baseline.p50,
      ratio: ratio(list.ours.p50, list.baseline.p50),
      goal: `<= ${LIST_GOAL_P50_MS} ms`,
      met: list.ours.p50 <= LIST_GOAL_P50_MS && failures === 0,
      note:
        `the buyer has ${ORDERS_PER_BUYER} of them, ${buyers} buyers in all` +
        (failures > 0 ? `; ${list.ours.non2xx} non-2xx answers and ${list.ours.errors} errors` : ''),
    },
    {
      figure: `${LABEL} p99 over ${orderCount} orders`,
      unit: 'ms',
      ours: list.ours.p99,
      baseline: list.baseline.p99,
      ratio: ratio(list.ours.p99, list.baseline.p99),
    },
    {
      figure: `the old query ({ userId } by _id, limit 21) over ${orderCount} orders, alone`,
      unit: 'ms',
      ours: oldQueryMs,
      note: `median of three: ${oldQuery.map((ms) => round(ms)).join(', ')} ms`,
    },
  ];
}
