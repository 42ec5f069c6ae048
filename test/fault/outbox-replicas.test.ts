import { OUTBOX_CHECKPOINTS, Subjects, type Bus, type OutboxCheckpoint, type OutboxEntry } from '@ticketing/common';
import { startBusServer, busServerEnv, startTcpProxy, type BusServer, type TcpProxy } from '@ticketing/devinfra';
import {
  EventProbe,
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testBusTransport,
  testMongoUri,
} from '@ticketing/common/testing';
import mongoose from 'mongoose';
import { connectPrivateBus, newId, openDatabase, type Database } from './support/fixtures';
import { requestJson } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * Two replicas of the tickets service (two processes) on one database, so two outbox relays on one
 * collection. Replica A reaches the bus through a TCP proxy that the test can cut. A ticket created
 * through A cannot be published by A; B's edit of the ticket keeps A's entry, publishes it and
 * pulls it off the document. Once A's bus is back, A must still move its checkpoint past that
 * entry (it never finds it on the document again), and when A stops for good, B removes A's
 * checkpoint.
 */

interface TicketJson {
  id: string;
}

let nats: BusServer;
let natsProxy: TcpProxy;
let bus: Bus;
let database: Database;
let replicaA: ServiceProcess;
let replicaB: ServiceProcess;
const seller = newId();
const cookie = sessionCookie({ id: seller, email: `${seller}@example.com` }, TEST_JWT_KEY);

beforeAll(async () => {
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['tickets']),
  ]);
  nats = server;
  natsProxy = await startTcpProxy({ port: Number(new URL(nats.url).port) });
  bus = await connectPrivateBus(nats, 'outbox-replicas');
  database = await openDatabase(testMongoUri());
  const env = { MONGO_URI: testMongoUri(), ...busServerEnv(nats), JWT_KEY: TEST_JWT_KEY };
  [replicaA, replicaB] = await Promise.all([
    startServiceProcess('tickets', { ...env, NATS_URL: `nats://127.0.0.1:${natsProxy.port}` }),
    startServiceProcess('tickets', { ...env, NATS_URL: nats.url }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([replicaA?.stop(), replicaB?.stop()]);
  await database?.db.dropDatabase();
  await database?.close();
  await bus?.close();
  await natsProxy?.close();
  await nats?.stop();
}, 60_000);

const checkpointOf = (relay: string) =>
  database.db.collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS).findOne({ _id: relay });

async function outboxOf(id: string): Promise<OutboxEntry[]> {
  const doc = await database.db
    .collection<{ _id: mongoose.Types.ObjectId; outbox: OutboxEntry[] }>('tickets')
    .findOne({ _id: new mongoose.Types.ObjectId(id) });
  return doc?.outbox ?? [];
}

/** Expects the relay's checkpoint to vouch for its entry `seq`: past it, and not left open. */
async function expectCovers(relay: string, seq: number): Promise<void> {
  const row = await checkpointOf(relay);
  expect({ relay, through: row?.through, seqOpen: row?.open?.includes(seq) ?? false }).toEqual({
    relay,
    through: expect.any(Number),
    seqOpen: false,
  });
  expect(row?.through).toBeGreaterThanOrEqual(seq);
}

describe('two replicas publishing from one collection', () => {
  it("never stall each other's checkpoint, and the checkpoint of a stopped replica is removed", async () => {
    const probe = new EventProbe(bus, [Subjects.TicketCreated, Subjects.TicketUpdated]);
    natsProxy.partition();

    const created = await requestJson<TicketJson>(`${replicaA.url}/api/tickets`, {
      method: 'POST',
      body: { title: 'Made by A', price: 20 },
      cookie,
    });
    expect(created.status).toBe(201);
    const ticketId = created.body.id;
    // Unpublished (A's bus is cut), so it stays on the document until someone publishes it.
    const [entryOfA] = await outboxOf(ticketId);
    expect(entryOfA).toMatchObject({ subject: Subjects.TicketCreated, relay: expect.any(String) });
    const relayA = entryOfA?.relay ?? '';

    const edited = await requestJson(`${replicaB.url}/api/tickets/${ticketId}`, {
      method: 'PUT',
      body: { title: 'Edited on B', price: 25 },
      cookie,
    });
    expect(edited.status).toBe(200);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === ticketId);
    await probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.title === 'Edited on B');
    await eventually(async () => expect((await outboxOf(ticketId)).map((e) => e.relay)).not.toContain(relayA));

    natsProxy.restore();

    await eventually(() => expectCovers(relayA, entryOfA?.seq ?? Infinity), { timeoutMs: 20_000 });

    const stopped = await replicaA.stop();
    expect({ code: stopped.code, output: describeService(replicaA, stopped) }).toMatchObject({ code: 0 });
    // B's next idle sweep (every 30 s by default) finds no entry of A left and removes A's checkpoint.
    await eventually(async () => expect(await checkpointOf(relayA)).toBeNull(), { timeoutMs: 60_000 });
  }, 120_000);
});
