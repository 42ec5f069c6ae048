import http from 'node:http';
import { countUnpublished } from '@ticketing/common';
import { startBusServer, busServerEnv, type BusServer, externalServer } from '@ticketing/devinfra';
import {
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testBusTransport,
  testDatabaseName,
  testMongoUri,
  withDatabase,
} from '@ticketing/common/testing';
import { figure, newId, openDatabase, pause, tempDir, type Database } from './support/fixtures';
import { requestJson } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * The bus server (NATS Streaming or JetStream, file store, as in the cluster) is stopped for 5 s and started again while a seller
 * creates 1,000 tickets through the tickets service. Every creation still succeeds (the event waits
 * in the ticket's outbox), and the orders service's replica ends with exactly those 1,000 tickets:
 * none lost, none twice. Both services run as their own processes on a private server.
 */

const TICKETS = 1_000;
const CONCURRENCY = 8;
/** Paced so that the creations straddle the outage: ~125 per second. */
const INTERVAL_MS = 8;
const STOP_AFTER = 150;
const OUTAGE_MS = 5_000;

const transport = testBusTransport();
const describeWithPrivateNats =
  externalServer(transport === 'jetstream' ? 'jetstream' : 'nats') === undefined ? describe : describe.skip;

let store: ReturnType<typeof tempDir>;
let nats: BusServer;
let natsPorts: { port: number; monitorPort: number };
let ticketsDb: Database;
let ordersDb: Database;
let tickets: ServiceProcess;
let orders: ServiceProcess;

const databases = {
  tickets: `${testDatabaseName()}_tickets`,
  orders: `${testDatabaseName()}_orders`,
};

function startNats(): Promise<BusServer> {
  return startBusServer(testBusTransport(), { store: 'file', dataDir: store.dir, ...natsPorts });
}

beforeAll(async () => {
  store = tempDir('nats');
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'file', dataDir: store.dir }),
    ensureBuilt(['tickets', 'orders']),
  ]);
  nats = server;
  natsPorts = { port: nats.port, monitorPort: Number(new URL(nats.monitorUrl).port) };
  [ticketsDb, ordersDb] = await Promise.all([
    openDatabase(withDatabase(testMongoUri(), databases.tickets)),
    openDatabase(withDatabase(testMongoUri(), databases.orders)),
  ]);
  const env = (service: keyof typeof databases): Record<string, string> => ({
    MONGO_URI: withDatabase(testMongoUri(), databases[service]),
    ...busServerEnv(nats),
    JWT_KEY: TEST_JWT_KEY,
  });
  [tickets, orders] = await Promise.all([
    startServiceProcess('tickets', env('tickets')),
    startServiceProcess('orders', env('orders')),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([tickets?.stop(), orders?.stop()]);
  for (const database of [ticketsDb, ordersDb]) {
    await database?.db.dropDatabase();
    await database?.close();
  }
  await nats?.stop();
  store?.remove();
}, 60_000);

describeWithPrivateNats(`tickets and orders while the bus (${transport}) is down for 5 s`, () => {
  it('creates all 1,000 tickets and the orders replica converges to exactly those 1,000', async () => {
    const seller = newId();
    const cookie = sessionCookie({ id: seller, email: `${seller}@example.com` }, TEST_JWT_KEY);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const created: string[] = [];
    const failures: string[] = [];
    const started = Date.now();

    let outage: Promise<void> | undefined;
    const bringDownOnce = (): void => {
      outage ??= (async () => {
        await nats.stop();
        figure(`NATS stopped after ${created.length} tickets, ${Date.now() - started} ms in`);
        await pause(OUTAGE_MS);
        nats = await startNats();
        figure(`NATS back after ${created.length} tickets, ${Date.now() - started} ms in`);
      })();
    };

    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < TICKETS; i = next++) {
        const due = started + i * INTERVAL_MS;
        if (due > Date.now()) await pause(due - Date.now());
        const res = await requestJson<{ id: string }>(`${tickets.url}/api/tickets`, {
          method: 'POST',
          body: { title: `Ticket ${i}`, price: 10 + (i % 50) },
          cookie,
          agent,
          timeoutMs: 30_000,
        });
        if (res.status === 201) created.push(res.body.id);
        else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
        if (created.length === STOP_AFTER) bringDownOnce();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    agent.destroy();
    figure(`1,000 POST /api/tickets answered in ${Date.now() - started} ms`);
    await outage;

    // The outage cost no request: each was stored with its event in the outbox.
    expect(failures).toEqual([]);
    expect(created).toHaveLength(TICKETS);

    const replica = ordersDb.db.collection<{ version: number }>('tickets');
    const waitStarted = Date.now();
    await eventually(async () => expect(await replica.countDocuments()).toBeGreaterThanOrEqual(TICKETS), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    figure(`replica complete ${Date.now() - waitStarted} ms after the last creation`);
    const stored = await replica.find({}, { projection: { _id: 1, version: 1 } }).toArray();
    const ids = stored.map((t) => String(t._id));
    expect(ids).toHaveLength(TICKETS);
    expect(new Set(ids).size).toBe(TICKETS);
    expect(new Set(ids)).toEqual(new Set(created));
    expect(stored.filter((t) => t.version !== 0)).toEqual([]);

    // Every event is known to be published: nothing is still waiting in an outbox.
    await eventually(async () => expect(await countUnpublished(ticketsDb.db, 'tickets')).toBe(0), {
      timeoutMs: 10_000,
    });
    for (const service of [tickets, orders]) {
      if (!service.running()) throw new Error(describeService(service));
    }
    // 40-50 s on two busy cores: an update on FerretDB's SQLite backend scans its collection, and each
    // creation pops its event off the ticket once published. Room above that for a loaded CI.
  }, 100_000);
});
