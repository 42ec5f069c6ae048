import { OrderStatus } from '@ticketing/common';
import { TEST_JWT_KEY, eventually, sessionCookie, testBusTransport, testMongoUri } from '@ticketing/common/testing';
import { busServerEnv, startBusServer, type BusServer } from '@ticketing/devinfra';
import mongoose from 'mongoose';
import { newId, openDatabase, type Database } from './support/fixtures';
import { requestJson, type JsonResponse } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * Two replicas of the orders service (two processes) on one database, a buyer's requests answered
 * by either. GET /api/orders reads the buyer's list of orders, which the POST writes before it
 * answers: an order placed through one replica is listed at once by the other, with its status as
 * it is now, and another buyer's orders never show. An order stored without its list entry (as
 * before the lists existed) is listed once a replica has started again (its scan at start).
 */

interface OrderJson {
  id: string;
  status: string;
  userId: string;
}
interface PageJson {
  orders: OrderJson[];
  nextCursor: string | null;
}

let nats: BusServer;
let database: Database;
let env: Record<string, string>;
let replicaA: ServiceProcess;
let replicaB: ServiceProcess;

beforeAll(async () => {
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['orders']),
  ]);
  nats = server;
  database = await openDatabase(testMongoUri());
  // Room for the buyer's six unpaid orders.
  env = { MONGO_URI: testMongoUri(), ...busServerEnv(nats), JWT_KEY: TEST_JWT_KEY, MAX_ACTIVE_ORDERS_PER_USER: '10' };
  [replicaA, replicaB] = await Promise.all([startServiceProcess('orders', env), startServiceProcess('orders', env)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([replicaA?.stop(), replicaB?.stop()]);
  await database?.db.dropDatabase();
  await database?.close();
  await nats?.stop();
}, 60_000);

/**
 * Newest first means by id, descending: ids made by two processes within one second are ordered by
 * their random part, not by which came first.
 */
const newestFirst = (ids: string[]): string[] => [...ids].sort().reverse();

const cookieOf = (userId: string): string[] => sessionCookie({ id: userId, email: `${userId}@example.com` });

/** A ticket in the orders service's replica, as ticket:created would have stored it. */
async function ticket(): Promise<string> {
  const id = new mongoose.Types.ObjectId();
  await database.db
    .collection('tickets')
    .insertOne({ _id: id, title: 'Concert', priceCents: 2_000, userId: newId(), version: 0 });
  return id.toHexString();
}

async function placeOrder(replica: ServiceProcess, userId: string): Promise<string> {
  const res = await requestJson<OrderJson>(`${replica.url}/api/orders`, {
    method: 'POST',
    body: { ticketId: await ticket() },
    cookie: cookieOf(userId),
  });
  expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
  return res.body.id;
}

/** Every page of the buyer's orders, `limit` at a time, each page from the next replica in turn. */
async function listAll(replicas: ServiceProcess[], userId: string, limit: number): Promise<OrderJson[]> {
  const seen: OrderJson[] = [];
  let cursor: string | null = null;
  for (let turn = 0; ; turn += 1) {
    const replica = replicas[turn % replicas.length] as ServiceProcess;
    const query: string = `limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const res: JsonResponse<PageJson> = await requestJson<PageJson>(`${replica.url}/api/orders?${query}`, {
      cookie: cookieOf(userId),
    });
    expect(res.status).toBe(200);
    seen.push(...res.body.orders);
    cursor = res.body.nextCursor;
    if (cursor === null) return seen;
  }
}

describe('GET /api/orders across two replicas of the orders service', () => {
  it('lists at once what either replica stored, with its current status, and only the caller’s', async () => {
    const buyer = newId();
    const other = newId();
    const mine: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const writer = i % 2 === 0 ? replicaA : replicaB;
      const reader = i % 2 === 0 ? replicaB : replicaA;
      await placeOrder(reader, other);
      mine.push(await placeOrder(writer, buyer));
      // Read through the other replica straight after the POST's answer.
      expect((await listAll([reader], buyer, 20)).map((o) => o.id)).toEqual(newestFirst(mine));
    }
    const cancelled = mine[2] as string;
    const patch = await requestJson(`${replicaA.url}/api/orders/${cancelled}`, {
      method: 'PATCH',
      body: { status: 'cancelled' },
      cookie: cookieOf(buyer),
    });
    expect(patch.status).toBe(200);

    const listed = await listAll([replicaB, replicaA], buyer, 4);

    expect(listed.map((o) => [o.id, o.status])).toEqual(
      newestFirst(mine).map((id) => [id, id === cancelled ? OrderStatus.Cancelled : OrderStatus.Created]),
    );
    expect(listed.every((o) => o.userId === buyer)).toBe(true);
  });

  it('lists an order stored without its list entry once a replica has started again', async () => {
    const buyer = newId();
    const placed = await placeOrder(replicaA, buyer);
    const unlisted = new mongoose.Types.ObjectId();
    await database.db.collection('orders').insertOne({
      _id: unlisted,
      userId: buyer,
      status: OrderStatus.Cancelled,
      expiresAt: new Date(),
      ticket: new mongoose.Types.ObjectId(await ticket()),
      priceCents: 2_000,
      ticketLock: unlisted,
      version: 0,
      outbox: [],
    });
    expect((await listAll([replicaA, replicaB], buyer, 20)).map((o) => o.id)).toEqual([placed]);

    const stopped = await replicaB.stop();
    expect({ code: stopped.code, output: describeService(replicaB, stopped) }).toMatchObject({ code: 0 });
    replicaB = await startServiceProcess('orders', env);

    await eventually(async () =>
      expect((await listAll([replicaA], buyer, 20)).map((o) => o.id)).toEqual(
        newestFirst([unlisted.toHexString(), placed]),
      ),
    );
  });
});
