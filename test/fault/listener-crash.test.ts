import { Publisher, Subjects, type Bus, type TicketCreatedEvent, type TicketUpdatedEvent } from '@ticketing/common';
import { startBusServer, busServerEnv, type BusServer } from '@ticketing/devinfra';
import { TEST_JWT_KEY, eventually, testBusTransport, testMongoUri } from '@ticketing/common/testing';
import { connectPrivateBus, figure, newId, openDatabase, type Database } from './support/fixtures';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * The orders service (its own process) is killed with SIGKILL while a stream of ticket events flows
 * in, and started again. Whatever it had received but not acked is redelivered, whatever was
 * published while it was down waits in its durable queue group, and its ticket replica ends exactly
 * as the events describe it: every ticket once, each at its last version.
 */

const TICKETS = 500;
/** Events published per second (a ticket:created then a ticket:updated for each ticket). */
const EVENTS_PER_SECOND = 250;
const KILL_AFTER = 120;

class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}
class TicketUpdatedPublisher extends Publisher<TicketUpdatedEvent> {
  readonly subject = Subjects.TicketUpdated;
}

let nats: BusServer;
let bus: Bus;
let database: Database;
let orders: ServiceProcess;
let env: Record<string, string>;

beforeAll(async () => {
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['orders']),
  ]);
  nats = server;
  bus = await connectPrivateBus(nats, 'listener-crash');
  database = await openDatabase(testMongoUri());
  env = { MONGO_URI: testMongoUri(), ...busServerEnv(nats), JWT_KEY: TEST_JWT_KEY };
  orders = await startServiceProcess('orders', env);
}, 120_000);

afterAll(async () => {
  await orders?.stop();
  await database?.db.dropDatabase();
  await database?.close();
  await bus?.close();
  await nats?.stop();
}, 60_000);

describe('the orders service killed with SIGKILL mid-stream', () => {
  it('converges after a restart: every ticket once, at its last version', async () => {
    const replica = database.db.collection<{ version: number; priceCents: number; title: string }>('tickets');
    const created = new TicketCreatedPublisher(bus);
    const updated = new TicketUpdatedPublisher(bus);
    const sellers = Array.from({ length: 5 }, newId);
    const tickets = Array.from({ length: TICKETS }, (_, i) => ({
      id: newId(),
      title: `Show ${i}`,
      price: 10 + (i % 40),
      userId: sellers[i % sellers.length] ?? '',
    }));

    let killed: Promise<void> | undefined;
    const crashAndRestart = async (): Promise<void> => {
      const victim = orders;
      victim.signal('SIGKILL');
      const exit = await victim.exited;
      expect(exit.signal).toBe('SIGKILL');
      figure(`orders killed with ${await replica.countDocuments()} tickets in its replica`);
      orders = await startServiceProcess('orders', env, { port: victim.port });
      figure(`orders back with ${await replica.countDocuments()} tickets in its replica`);
    };

    const started = Date.now();
    const watcher = (async () => {
      // Kill it once it is visibly in the middle of the stream.
      await eventually(async () => expect(await replica.countDocuments()).toBeGreaterThanOrEqual(KILL_AFTER), {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      killed = crashAndRestart();
    })();

    for (const [i, t] of tickets.entries()) {
      const due = started + (i * 2 * 1000) / EVENTS_PER_SECOND;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      await created.publish({ ...t, version: 0 });
      await updated.publish({ ...t, version: 1, title: `${t.title} (moved)`, price: t.price + 5 });
    }
    figure(`${TICKETS * 2} events published in ${Date.now() - started} ms`);
    await watcher;
    await killed;

    await eventually(async () => expect(await replica.countDocuments({ version: 1 })).toBe(TICKETS), {
      timeoutMs: 40_000,
      intervalMs: 250,
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${describeService(orders)}`);
    });
    figure(`replica converged ${Date.now() - started} ms after the first event`);
    const stored = await replica.find({}).toArray();
    expect(stored).toHaveLength(TICKETS);
    const byId = new Map(stored.map((t) => [String(t._id), t]));
    const wrong = tickets.filter((t) => {
      const row = byId.get(t.id);
      return row?.version !== 1 || row.title !== `${t.title} (moved)` || row.priceCents !== (t.price + 5) * 100;
    });
    expect(wrong).toEqual([]);
    expect(orders.running()).toBe(true);
  }, 60_000);
});
