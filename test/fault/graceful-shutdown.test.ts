import http from 'node:http';
import { Subjects, countUnpublished, type Bus } from '@ticketing/common';
import { startBusServer, busServerEnv, type BusServer } from '@ticketing/devinfra';
import { TEST_JWT_KEY, sessionCookie, testBusTransport, testMongoUri, eventually } from '@ticketing/common/testing';
import { EventCounter, connectPrivateBus, figure, newId, openDatabase, type Database } from './support/fixtures';
import { RequestFailed, requestJson } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * SIGTERM while the tickets service (its own process) is busy: clients keep sending until the port
 * is closed. Every request the service took on is finished and answered (none is cut off, none is
 * stored without its answer getting through), every stored ticket's event is published before the
 * bus closes, and the process exits 0.
 */

const CLIENTS = 24;
const SIGTERM_AFTER = 150;

let nats: BusServer;
let bus: Bus;
let database: Database;
let tickets: ServiceProcess;

beforeAll(async () => {
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['tickets']),
  ]);
  nats = server;
  bus = await connectPrivateBus(nats, 'shutdown');
  database = await openDatabase(testMongoUri());
  tickets = await startServiceProcess('tickets', {
    MONGO_URI: testMongoUri(),
    ...busServerEnv(nats),
    JWT_KEY: TEST_JWT_KEY,
  });
}, 120_000);

afterAll(async () => {
  await tickets?.stop();
  await database?.db.dropDatabase();
  await database?.close();
  await bus?.close();
  await nats?.stop();
}, 60_000);

interface Tally {
  created: string[];
  otherStatuses: number[];
  /** Connection-level failures before any answer (refused: the port is closed; reset: never read). */
  refused: number;
  reset: number;
  /** Answers that started and were cut off: what a graceful shutdown must never do. */
  cutOff: string[];
  unexpected: string[];
}

describe('the tickets service on SIGTERM under load', () => {
  it('finishes and answers every request it took on, publishes their events, and exits 0', async () => {
    const counter = new EventCounter(bus, [Subjects.TicketCreated]);
    const seller = newId();
    const cookie = sessionCookie({ id: seller, email: `${seller}@example.com` }, TEST_JWT_KEY);
    // Keep-alive, like the gateway: the harder case (a request can arrive on an open connection
    // while the server closes it).
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const tally: Tally = { created: [], otherStatuses: [], refused: 0, reset: 0, cutOff: [], unexpected: [] };
    let signalled = false;
    let signalledAt = 0;

    const client = async (n: number): Promise<void> => {
      for (let i = 0; ; i += 1) {
        try {
          const res = await requestJson<{ id: string }>(`${tickets.url}/api/tickets`, {
            method: 'POST',
            body: { title: `Load ${n}.${i}`, price: 12.5 },
            cookie,
            agent,
          });
          if (res.status === 201) tally.created.push(res.body.id);
          else tally.otherStatuses.push(res.status);
        } catch (err) {
          if (!(err instanceof RequestFailed)) throw err;
          if (err.answered) tally.cutOff.push(err.message);
          else if (err.code === 'ECONNREFUSED') tally.refused += 1;
          else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') tally.reset += 1;
          else tally.unexpected.push(`${err.code}: ${err.message}`);
          // Before the signal nothing may fail; after it, a refused connection means the port is
          // closed for good and this client is done.
          if (!signalled || err.code === 'ECONNREFUSED' || !tickets.running()) return;
        }
        if (signalled && !tickets.running()) return;
        if (!signalled && tally.created.length >= SIGTERM_AFTER) {
          signalled = true;
          signalledAt = Date.now();
          tickets.signal('SIGTERM');
        }
      }
    };

    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    const exit = await tickets.exited;
    agent.destroy();
    figure(
      `SIGTERM → exit in ${Date.now() - signalledAt} ms; ${tally.created.length} created, ` +
        `${tally.refused} refused, ${tally.reset} reset before an answer`,
    );

    expect(signalled).toBe(true);
    expect({ exit, output: exit.code === 0 ? '' : describeService(tickets, exit) }).toEqual({
      exit: { code: 0, signal: null },
      output: '',
    });
    expect(tally.cutOff).toEqual([]);
    expect(tally.unexpected).toEqual([]);
    expect(tally.otherStatuses).toEqual([]);

    // Nothing was stored without its answer reaching the client, nothing answered was lost.
    const stored = await database.db
      .collection<{ outbox: unknown[] }>('tickets')
      .find({}, { projection: { _id: 1, outbox: 1 } })
      .toArray();
    expect(stored.map((t) => String(t._id)).sort()).toEqual([...tally.created].sort());
    // Each one's event was published before the bus closed, and the relay's last checkpoint (written
    // on the way out) says so: no entry is left for a sweep to publish again...
    expect(await countUnpublished(database.db, 'tickets')).toBe(0);
    // ...and the bus has one ticket:created for each.
    await eventually(() => expect(new Set(counter.idsOf(Subjects.TicketCreated)).size).toBe(tally.created.length), {
      timeoutMs: 10_000,
    });
    expect(new Set(counter.idsOf(Subjects.TicketCreated))).toEqual(new Set(tally.created));
  }, 60_000);
});
