import { Publisher, Subjects, OrderStatus, type Bus, type EventData } from '@ticketing/common';
import { startBusServer, busServerEnv, type BusServer } from '@ticketing/devinfra';
import {
  EventProbe,
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testBusTransport,
  testMongoUri,
} from '@ticketing/common/testing';
import type { OrderCancelledEvent, OrderCompletedEvent, OrderCreatedEvent } from '@ticketing/common';
import { randomUUID } from 'node:crypto';
import { connectPrivateBus, figure, newId, openDatabase, type Database } from './support/fixtures';
import { requestJson } from './support/http-client';
import { describeService, ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * The tickets service (its own process) is down while the orders service publishes the whole story
 * of many tickets' orders: order A holds the ticket, A is cancelled, order B holds it, B is paid.
 * When tickets starts again, its durable queue group (deliver all available) hands it the whole
 * backlog at once, the three order channels interleaved however the server sends them, each event
 * twice; it is SIGKILLed in the middle of that replay and started once more. Every ticket must end
 * where the orders service says it is: sold to B, held by B, or free, seen through the HTTP API and
 * through the ticket:updated events it published (one per version, the last one saying the same).
 */

const SOLD = 30;
const HELD = 20;
const FREE = 10;

class OrderCreatedPublisher extends Publisher<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
}
class OrderCancelledPublisher extends Publisher<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
}
class OrderCompletedPublisher extends Publisher<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;
}

type Fate = 'sold' | 'held' | 'free';

interface Story {
  ticketId: string;
  sellerId: string;
  fate: Fate;
  a: string;
  b: string;
}

interface TicketJson {
  id: string;
  version: number;
  orderId?: string;
  sold?: boolean;
}

/** A small seeded generator, so that a failing shuffle can be replayed (FAULT_SEED=...). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

let nats: BusServer;
let bus: Bus;
let database: Database;
let tickets: ServiceProcess;
let env: Record<string, string>;

beforeAll(async () => {
  const [server] = await Promise.all([
    startBusServer(testBusTransport(), { store: 'memory' }),
    ensureBuilt(['tickets']),
  ]);
  nats = server;
  bus = await connectPrivateBus(nats, 'tickets-backlog');
  database = await openDatabase(testMongoUri());
  env = { MONGO_URI: testMongoUri(), ...busServerEnv(nats), JWT_KEY: TEST_JWT_KEY };
  tickets = await startServiceProcess('tickets', env);
}, 120_000);

afterAll(async () => {
  await tickets?.stop();
  await database?.db.dropDatabase();
  await database?.close();
  await bus?.close();
  await nats?.stop();
}, 60_000);

const cookieOf = (userId: string): string[] => sessionCookie({ id: userId, email: `${userId}@example.com` });

describe('the tickets service restarted on a backlog of order events', () => {
  it('converges on every ticket after replaying the whole backlog, SIGKILLed in the middle of it', async () => {
    const seed = Number(process.env['FAULT_SEED'] ?? Date.now() % 1_000_000);
    const random = generator(seed);
    const why = (detail: string): string => `seed ${seed}: ${detail}\n${describeService(tickets)}`;
    const probe = new EventProbe(bus, [Subjects.TicketUpdated]);

    const fates: Fate[] = [
      ...Array<Fate>(SOLD).fill('sold'),
      ...Array<Fate>(HELD).fill('held'),
      ...Array<Fate>(FREE).fill('free'),
    ];
    const stories: Story[] = [];
    for (const fate of fates) {
      const sellerId = newId();
      const res = await requestJson<TicketJson>(`${tickets.url}/api/tickets`, {
        method: 'POST',
        cookie: cookieOf(sellerId),
        body: { title: 'Concert', price: 20 },
      });
      expect(res.status).toBe(201);
      stories.push({ ticketId: res.body.id, sellerId, fate, a: newId(), b: newId() });
    }

    // Down (as after a crash) while the orders service lives every story.
    tickets.signal('SIGKILL');
    await tickets.exited;

    const created = new OrderCreatedPublisher(bus);
    const cancelled = new OrderCancelledPublisher(bus);
    const completed = new OrderCompletedPublisher(bus);
    const now = Date.now();
    const sends: Array<() => Promise<string>> = [];
    for (const s of stories) {
      const createdOf = (id: string, minutes: number): EventData<Subjects.OrderCreated> => ({
        id,
        version: 0,
        status: OrderStatus.Created,
        userId: newId(),
        expiresAt: new Date(now + minutes * 60_000).toISOString(),
        ticket: { id: s.ticketId, price: 20 },
      });
      const story: Array<(envelope: string) => Promise<string>> = [
        (id) => created.publish(createdOf(s.a, 15), { id }),
        (id) => cancelled.publish({ id: s.a, version: 1, ticket: { id: s.ticketId } }, { id }),
      ];
      if (s.fate !== 'free') story.push((id) => created.publish(createdOf(s.b, 16), { id }));
      if (s.fate === 'sold')
        story.push((id) => completed.publish({ id: s.b, version: 1, ticket: { id: s.ticketId } }, { id }));
      for (const send of story) {
        const envelope = randomUUID();
        sends.push(
          () => send(envelope),
          () => send(envelope),
        ); // each event twice, one envelope
      }
    }
    for (const send of shuffle(sends, random)) await send();
    figure(`${sends.length} order events published while tickets was down (seed ${seed})`);

    const expectedVersions = stories.length * 3; // at least: a story changes its ticket 2 to 4 times
    tickets = await startServiceProcess('tickets', env, { port: tickets.port });
    // Killed once it is visibly in the middle of the replay.
    await eventually(
      () => expect(probe.of(Subjects.TicketUpdated).length).toBeGreaterThanOrEqual(expectedVersions / 4),
      {
        timeoutMs: 30_000,
        intervalMs: 5,
      },
    );
    tickets.signal('SIGKILL');
    expect((await tickets.exited).signal).toBe('SIGKILL');
    figure(`tickets killed after ${probe.of(Subjects.TicketUpdated).length} ticket:updated`);
    tickets = await startServiceProcess('tickets', env, { port: tickets.port });

    const show = async (id: string): Promise<TicketJson> => {
      const res = await requestJson<TicketJson>(`${tickets.url}/api/tickets/${id}`);
      expect(res.status).toBe(200);
      return res.body;
    };
    const expected = (s: Story): { orderId?: string; sold?: boolean } =>
      s.fate === 'sold' ? { orderId: s.b, sold: true } : s.fate === 'held' ? { orderId: s.b } : {};
    await eventually(
      async () => {
        const wrong: string[] = [];
        for (const s of stories) {
          const t = await show(s.ticketId);
          const want = expected(s);
          if (t.orderId !== want.orderId || t.sold !== want.sold) wrong.push(`${s.fate} ${JSON.stringify(t)}`);
        }
        expect(wrong).toEqual([]);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(why(String(error)));
    });

    // The listing shows exactly the free ones of these tickets.
    const listed = new Set<string>();
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await requestJson<{ tickets: TicketJson[]; nextCursor: string | null }>(
        `${tickets.url}/api/tickets?limit=100${query}`,
      );
      expect(page.status).toBe(200);
      for (const t of page.body.tickets) listed.add(t.id);
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(stories.filter((s) => listed.has(s.ticketId)).map((s) => s.fate)).toEqual(Array<Fate>(FREE).fill('free'));

    for (const s of stories) {
      const final = await show(s.ticketId);
      // Every version was published, and a version published twice (the crash) is the same event.
      await eventually(() =>
        expect(probe.of(Subjects.TicketUpdated).some((d) => d.id === s.ticketId && d.version === final.version)).toBe(
          true,
        ),
      );
      const updates = probe.of(Subjects.TicketUpdated).filter((d) => d.id === s.ticketId);
      const byVersion = new Map<number, string>();
      for (const d of updates) {
        const json = JSON.stringify(d);
        expect(byVersion.get(d.version) ?? json).toBe(json);
        byVersion.set(d.version, json);
      }
      expect([...byVersion.keys()].sort((x, y) => x - y)).toEqual(
        Array.from({ length: final.version }, (_, i) => i + 1),
      );
      const last = updates.find((d) => d.version === final.version);
      expect({ orderId: last?.orderId, sold: last?.sold }).toEqual({ orderId: final.orderId, sold: final.sold });

      const edit = await requestJson<{ errors?: Array<{ code: string }> }>(`${tickets.url}/api/tickets/${s.ticketId}`, {
        method: 'PUT',
        cookie: cookieOf(s.sellerId),
        body: { title: 'Concert', price: 25 },
      });
      const code = { sold: 'TICKET_SOLD', held: 'TICKET_RESERVED', free: undefined }[s.fate];
      expect({ fate: s.fate, status: edit.status, code: edit.body.errors?.[0]?.code }).toEqual({
        fate: s.fate,
        status: code === undefined ? 200 : 400,
        code,
      });
    }
    expect(tickets.running()).toBe(true);
  }, 180_000);
});
