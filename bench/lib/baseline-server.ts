/**
 * The baselines' server, run by the bench as its own process (as each service is): the physical path
 * of each measured operation with nothing of ours on it. Bare Express with a JSON body parser and the
 * Mongo driver, on the same database server as the stack:
 *
 *   POST /tickets        one insertOne                       (baseline of POST /api/tickets, /api/orders)
 *   GET  /tickets?limit  the list query on the tickets service's own collection, no validation, no
 *                        cookie, no paging logic              (the same query as GET /api/tickets?limit=20)
 *   GET  /tickets/by-id  20 reads by bare _id of that collection (baseline of GET /api/tickets?limit=20)
 *   POST /reserve        one insertOne under a unique index  (baseline of 200 buyers for one ticket)
 *   GET  /orders/by-id   20 orders and their 20 tickets by bare _id, from the orders service's
 *                        database                            (baseline of GET /api/orders?limit=20)
 *
 * and, when NATS_URL is set, a plain node-nats-streaming subscriber (durable queue group, manual ack,
 * the listeners' options) that inserts each message into a replica collection: the baseline of event
 * propagation. Prints {"port":N} on stdout once it listens.
 *
 * Environment: MONGO_URI (the server, no database), BASELINE_DB, TICKETS_DB, ORDERS_DB, NATS_URL,
 * NATS_CLUSTER_ID.
 */
import express from 'express';
import mongoose from 'mongoose';
import nats, { type Stan } from 'node-nats-streaming';
import { withDatabase } from '../../common/src/testing/test-env';
import { BASELINE_CHANNEL } from './baseline';
import { listenerLikeOptions } from './plain-stan';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function subscribe(db: mongoose.mongo.Db, url: string, clusterId: string): Promise<Stan> {
  const stan = nats.connect(clusterId, `bench-baseline-${process.pid}`, { url });
  await new Promise<void>((resolve, reject) => {
    stan.once('connect', () => resolve());
    stan.once('error', reject);
  });
  const replica = db.collection('replica');
  const options = listenerLikeOptions(stan, 'bench-baseline');
  const subscription = stan.subscribe(BASELINE_CHANNEL, 'bench-baseline', options);
  subscription.on('message', (msg: nats.Message) => {
    const { id, title, price } = JSON.parse(String(msg.getData())) as { id: string; title: string; price: number };
    replica.insertOne({ _id: new mongoose.Types.ObjectId(id), title, price, version: 0 }).then(
      () => msg.ack(),
      (err: { code?: unknown }) => {
        if (err.code === 11000) msg.ack();
      },
    );
  });
  await new Promise<void>((resolve) => subscription.once('ready', () => resolve()));
  return stan;
}

/** The three databases the routes read and write: the baseline's own, the tickets' and the orders'. */
async function openDatabases(
  uri: string,
): Promise<{ baseline: mongoose.mongo.Db; ticketsDb: mongoose.mongo.Db; ordersDb: mongoose.mongo.Db }> {
  const baseline = (await mongoose.createConnection(withDatabase(uri, env('BASELINE_DB'))).asPromise()).db;
  const ticketsDb = (await mongoose.createConnection(withDatabase(uri, env('TICKETS_DB'))).asPromise()).db;
  const ordersDb = (await mongoose.createConnection(withDatabase(uri, env('ORDERS_DB'))).asPromise()).db;
  if (baseline === undefined || ticketsDb === undefined || ordersDb === undefined) {
    throw new Error('no database handle');
  }
  return { baseline, ticketsDb, ordersDb };
}

/** POST /tickets, GET /tickets and GET /tickets/by-id (see the module comment). */
function ticketRoutes(
  app: express.Express,
  inserted: mongoose.mongo.Collection,
  tickets: mongoose.mongo.Collection,
): void {
  app.post('/tickets', async (req, res) => {
    const { title, price } = req.body as { title: string; price: number };
    const doc = { title, priceCents: Math.round(price * 100), userId: 'bench', version: 0 };
    await inserted.insertOne(doc);
    res.status(201).json(doc);
  });
  app.get('/tickets', async (req, res) => {
    const limit = Number(req.query['limit'] ?? 20);
    const rows = await tickets
      .find({ orderId: { $exists: false } })
      .sort({ _id: -1 })
      .limit(limit + 1)
      .toArray();
    res.json({ tickets: rows.slice(0, limit) });
  });
  // The physical path of a page of 20: 20 reads by bare _id (the one read every server answers from
  // its primary key), of ids taken once from the collection and then walked round-robin.
  let ids: mongoose.mongo.ObjectId[] | undefined;
  let turn = 0;
  app.get('/tickets/by-id', async (req, res) => {
    const limit = Number(req.query['limit'] ?? 20);
    // Taken again while the collection is empty (a phase may run before any ticket is stored).
    if (ids === undefined || ids.length === 0)
      ids = (
        await tickets
          .find({}, { projection: { _id: 1 } })
          .limit(1_000)
          .toArray()
      ).map((row) => row._id);
    const known = ids;
    const picked = Array.from({ length: Math.min(limit, known.length) }, (_, i) => known[(turn + i) % known.length]);
    turn += limit;
    const rows = await Promise.all(picked.map((_id) => tickets.findOne({ _id })));
    res.json({ tickets: rows });
  });
}

/** GET /orders/by-id: a page of orders and their tickets by bare _id, from the orders service's database. */
function orderRoutes(app: express.Express, ordersDb: mongoose.mongo.Db): void {
  // The physical path of a page of 20 orders with their tickets: 20 orders, then each one's ticket
  // (from the orders service's replica), all by bare _id; orders taken once, walked round-robin.
  const orders = ordersDb.collection('orders');
  const replica = ordersDb.collection('tickets');
  let orderIds: mongoose.mongo.ObjectId[] | undefined;
  let orderTurn = 0;
  app.get('/orders/by-id', async (req, res) => {
    const limit = Number(req.query['limit'] ?? 20);
    orderIds ??= (
      await orders
        .find({}, { projection: { _id: 1 } })
        .limit(1_000)
        .toArray()
    ).map((row) => row._id);
    const known = orderIds;
    const picked = Array.from(
      { length: Math.min(limit, known.length) },
      (_, i) => known[(orderTurn + i) % known.length],
    );
    orderTurn += limit;
    const rows = await Promise.all(picked.map((_id) => orders.findOne({ _id })));
    const tickets = await Promise.all(rows.map((row) => replica.findOne({ _id: row?.['ticket'] })));
    res.json({ orders: rows, tickets });
  });
}

/** POST /reserve: one insertOne under the unique index of `locks`, 400 TICKET_RESERVED on a duplicate. */
function reserveRoute(app: express.Express, locks: mongoose.mongo.Collection): void {
  app.post('/reserve', async (req, res) => {
    const { ticketId } = req.body as { ticketId: string };
    try {
      await locks.insertOne({ ticketLock: ticketId });
      res.status(201).json({ ticketId });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      res.status(400).json({ errors: [{ message: 'reserved', code: 'TICKET_RESERVED' }] });
    }
  });
}

/** Listens on a free port, prints {"port":N}, and stops everything on SIGTERM or SIGINT. */
function serve(app: express.Express, stan: Stan | undefined): void {
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    stan?.close();
    void mongoose.disconnect().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function main(): Promise<void> {
  const uri = env('MONGO_URI');
  const { baseline, ticketsDb, ordersDb } = await openDatabases(uri);
  const inserted = baseline.collection('tickets');
  const locks = baseline.collection('locks');
  await locks.createIndex({ ticketLock: 1 }, { unique: true });
  const tickets = ticketsDb.collection('tickets');

  const natsUrl = process.env['NATS_URL'];
  const stan =
    natsUrl === undefined || natsUrl === ''
      ? undefined
      : await subscribe(baseline, natsUrl, process.env['NATS_CLUSTER_ID'] ?? 'ticketing');

  const app = express();
  app.use(express.json());
  ticketRoutes(app, inserted, tickets);
  orderRoutes(app, ordersDb);
  reserveRoute(app, locks);
  serve(app, stan);
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
