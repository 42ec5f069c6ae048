import { jetStreamNames, stanBacklog } from '@ticketing/common';
import { busServerEnv, startBusServer, type BusServer } from '@ticketing/devinfra';
import {
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testDatabaseName,
  testMongoUri,
  withDatabase,
  withJetStream,
} from '@ticketing/common/testing';
import { newId, openDatabase, type Database } from './support/fixtures';
import { requestJson } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * The migration of docs/jetstream.md, done to a running system: tickets and orders (their own
 * processes) run on NATS Streaming and replicate tickets; the consumers drain; both services switch to
 * JetStream; then tickets made before the switch are updated and new ones made. The orders replica
 * ends with every ticket once at its last version (nothing lost, nothing applied twice), and the
 * JetStream stream holds only the events published after the switch (no history replayed).
 */

const BEFORE = 20;
const AFTER = 10;

let stan: BusServer;
let jetstream: BusServer;
let ticketsDb: Database;
let ordersDb: Database;
let tickets: ServiceProcess | undefined;
let orders: ServiceProcess | undefined;

const databases = { tickets: `${testDatabaseName()}_mt`, orders: `${testDatabaseName()}_mo` };
const seller = newId();
const cookie = sessionCookie({ id: seller, email: `${seller}@example.com` }, TEST_JWT_KEY);

function env(service: keyof typeof databases, bus: BusServer): Record<string, string> {
  return { MONGO_URI: withDatabase(testMongoUri(), databases[service]), ...busServerEnv(bus), JWT_KEY: TEST_JWT_KEY };
}

async function startBoth(bus: BusServer): Promise<void> {
  [tickets, orders] = await Promise.all([
    startServiceProcess('tickets', env('tickets', bus)),
    startServiceProcess('orders', env('orders', bus)),
  ]);
}

async function stopBoth(): Promise<void> {
  await Promise.all([tickets?.stop(), orders?.stop()]);
}

beforeAll(async () => {
  [stan, jetstream] = await Promise.all([
    startBusServer('stan', { store: 'file' }),
    startBusServer('jetstream'),
    ensureBuilt(['tickets', 'orders']),
  ]).then(([a, b]) => [a, b] as const);
  [ticketsDb, ordersDb] = await Promise.all([
    openDatabase(withDatabase(testMongoUri(), databases.tickets)),
    openDatabase(withDatabase(testMongoUri(), databases.orders)),
  ]);
  await startBoth(stan);
}, 120_000);

afterAll(async () => {
  await stopBoth();
  for (const database of [ticketsDb, ordersDb]) {
    await database?.db.dropDatabase();
    await database?.close();
  }
  await Promise.all([stan?.stop(), jetstream?.stop()]);
}, 60_000);

async function create(i: number): Promise<string> {
  const res = await requestJson<{ id: string }>(`${tickets?.url}/api/tickets`, {
    method: 'POST',
    body: { title: `Show ${i}`, price: 10 + i },
    cookie,
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function update(id: string, price: number): Promise<void> {
  const res = await requestJson(`${tickets?.url}/api/tickets/${id}`, {
    method: 'PUT',
    body: { title: `Moved ${id}`, price },
    cookie,
  });
  expect(res.status).toBe(200);
}

describe('moving a running system from NATS Streaming to JetStream', () => {
  it('loses no event and applies none twice', async () => {
    const replica = ordersDb.db.collection<{ version: number; priceCents: number }>('tickets');
    const old: string[] = [];
    for (let i = 0; i < BEFORE; i += 1) old.push(await create(i));
    for (const id of old.slice(0, 5)) await update(id, 99);

    // 1. Drain: every queue group has been sent and has acked everything, and no outbox holds an event.
    await eventually(
      async () => {
        expect(await stanBacklog(stan.monitorUrl)).toEqual([]);
        expect(await replica.countDocuments({})).toBe(BEFORE);
        expect(await replica.countDocuments({ version: 1 })).toBe(5);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // 2. Switch both services at once.
    await stopBoth();
    await startBoth(jetstream);

    // 3. Traffic again: updates of tickets made before the switch, and new tickets.
    for (const id of old.slice(0, 10)) await update(id, 150);
    const fresh: string[] = [];
    for (let i = 0; i < AFTER; i += 1) fresh.push(await create(BEFORE + i));

    await eventually(
      async () => {
        expect(await replica.countDocuments({})).toBe(BEFORE + AFTER);
        expect(await replica.countDocuments({ priceCents: 15_000 })).toBe(10);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${orders === undefined ? '' : describeService(orders)}`);
    });
    const stored = await replica.find({}).toArray();
    const byId = new Map(stored.map((t) => [String(t._id), t]));
    // The five updated twice are at version 2, the other five updated once at version 1.
    expect(old.slice(0, 5).map((id) => byId.get(id)?.version)).toEqual([2, 2, 2, 2, 2]);
    expect(old.slice(5, 10).map((id) => byId.get(id)?.version)).toEqual([1, 1, 1, 1, 1]);
    expect(fresh.map((id) => byId.get(id)?.version)).toEqual(Array(AFTER).fill(0));
    // JetStream got only the ticket events published after the switch: no history replayed (the
    // services' own session:revoked start-up markers aside).
    const ticketMessages = await withJetStream(jetstream.url, async (jsm) => {
      const info = await jsm.streams.info(jetStreamNames('').stream, { subjects_filter: '>' });
      return Object.entries(info.state.subjects ?? {})
        .filter(([subject]) => subject.startsWith('ticket:'))
        .reduce((sum, [, count]) => sum + count, 0);
    });
    expect(ticketMessages).toBe(10 + AFTER);
    expect(await stanBacklog(stan.monitorUrl)).toEqual([]);
  }, 120_000);
});
