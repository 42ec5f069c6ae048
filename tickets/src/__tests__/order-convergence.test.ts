import { Subjects, type EventData } from '@ticketing/common';
import { closeTestMongo, connectTestMongo, eventually } from '@ticketing/common/testing';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Ticket } from '../models/ticket';
import {
  OrderCancelledPublisher,
  OrderCompletedPublisher,
  OrderCreatedPublisher,
  createTicket,
  newId,
  orderCancelled,
  orderCompleted,
  orderCreated,
  signin,
  startTickets,
  waitUntilAllAcked,
  type TicketsHarness,
} from './harness';

/**
 * The tickets service follows the orders service's truth whatever order the events of a ticket's
 * orders arrive in. The story, as the orders service lived it: order A holds the ticket, A is
 * cancelled, then order B holds it and, in the four-event stories, B is paid (complete). Each
 * subject is its own channel on the bus, so the tickets service may hear these in any order, and
 * any of them twice. Every delivery order is played here, one event handled (acked) before the
 * next is published, each event delivered twice in a row (the same envelope, as an outbox
 * re-publishes it), and the whole story once more at the end.
 */

type Step = 'createdA' | 'cancelledA' | 'createdB' | 'completedB';

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

let svc: TicketsHarness;
let created: OrderCreatedPublisher;
let cancelled: OrderCancelledPublisher;
let completed: OrderCompletedPublisher;

beforeAll(async () => {
  await connectTestMongo();
  await Ticket.init();
  svc = await startTickets({ listeners: true });
  created = new OrderCreatedPublisher(svc.bus);
  cancelled = new OrderCancelledPublisher(svc.bus);
  completed = new OrderCompletedPublisher(svc.bus);
});

afterAll(async () => {
  await svc.close();
  await closeTestMongo();
});

interface Story {
  ticketId: string;
  sellerId: string;
  a: string;
  b: string;
  /** Publishes one step's event (the same envelope id every time) and waits until it is handled. */
  deliver(step: Step): Promise<void>;
}

async function story(): Promise<Story> {
  const sellerId = newId();
  const ticket = await createTicket(svc.app, signin(sellerId));
  const now = Date.now();
  // B was created after A was cancelled, so it expires later (the same reservation window).
  const a = orderCreated(ticket.id, { expiresAt: new Date(now + 15 * 60_000).toISOString() });
  const b = orderCreated(ticket.id, { expiresAt: new Date(now + 16 * 60_000).toISOString() });
  const envelopeIds: Record<Step, string> = {
    createdA: randomUUID(),
    cancelledA: randomUUID(),
    createdB: randomUUID(),
    completedB: randomUUID(),
  };
  // What the orders service published for each step, on the subject's own channel.
  const events: Record<Step, { subject: Subjects; publish: (id: string) => Promise<string> }> = {
    createdA: { subject: Subjects.OrderCreated, publish: (id) => created.publish(a, { id }) },
    cancelledA: {
      subject: Subjects.OrderCancelled,
      publish: (id) => cancelled.publish(orderCancelled(ticket.id, a.id), { id }),
    },
    createdB: { subject: Subjects.OrderCreated, publish: (id) => created.publish(b, { id }) },
    completedB: {
      subject: Subjects.OrderCompleted,
      publish: (id) => completed.publish(orderCompleted(ticket.id, b.id), { id }),
    },
  };
  return {
    ticketId: ticket.id,
    sellerId,
    a: a.id,
    b: b.id,
    deliver: async (step) => {
      await events[step].publish(envelopeIds[step]);
      await waitUntilAllAcked(svc.bus, events[step].subject);
    },
  };
}

/** What the events delivered so far say: the ticket is held unless A alone was heard of and cancelled. */
function heldAfter(delivered: ReadonlySet<Step>): boolean {
  return (
    delivered.has('createdB') ||
    delivered.has('completedB') ||
    (delivered.has('createdA') && !delivered.has('cancelledA'))
  );
}

/** Whether GET /api/tickets lists the ticket, on whichever page it is. */
async function isListed(ticketId: string): Promise<boolean> {
  let cursor: string | null = null;
  do {
    const res = await request(svc.app)
      .get('/api/tickets')
      .query({ limit: '100', ...(cursor === null ? {} : { cursor }) })
      .expect(200);
    const body = res.body as { tickets: Array<{ id: string }>; nextCursor: string | null };
    if (body.tickets.some((t) => t.id === ticketId)) return true;
    cursor = body.nextCursor;
  } while (cursor !== null);
  return false;
}

const updatesOf = (ticketId: string): Array<EventData<Subjects.TicketUpdated>> =>
  svc.probe.of(Subjects.TicketUpdated).filter((d) => d.id === ticketId);

async function showTicket(ticketId: string): Promise<{ version: number; orderId?: string; sold?: boolean }> {
  return (await request(svc.app).get(`/api/tickets/${ticketId}`).expect(200)).body;
}

async function playAndCheck(steps: readonly Step[]): Promise<void> {
  const s = await story();
  const delivered = new Set<Step>();
  for (const step of steps) {
    await s.deliver(step);
    await s.deliver(step); // a duplicate, right behind the original
    delivered.add(step);
    expect({ after: [...delivered], listed: await isListed(s.ticketId) }).toEqual({
      after: [...delivered],
      listed: !heldAfter(delivered),
    });
  }

  const sold = delivered.has('completedB');
  const final = await showTicket(s.ticketId);
  expect(final.orderId).toBe(s.b);
  expect(final.sold).toBe(sold ? true : undefined);
  const edit = await request(svc.app)
    .put(`/api/tickets/${s.ticketId}`)
    .set('Cookie', signin(s.sellerId))
    .send({ title: 'Concert', price: 99 });
  expect(edit.status).toBe(400);
  expect(edit.body.errors[0].code).toBe(sold ? 'TICKET_SOLD' : 'TICKET_RESERVED');

  // Every change was published, one ticket:updated per version, the last one saying what the API says.
  await eventually(() => expect(updatesOf(s.ticketId).map((d) => d.version)).toContain(final.version));
  const versions = updatesOf(s.ticketId).map((d) => d.version);
  expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: final.version }, (_, i) => i + 1));
  const last = updatesOf(s.ticketId).find((d) => d.version === final.version);
  expect(last?.orderId).toBe(s.b);
  expect(last?.sold).toBe(sold ? true : undefined);

  // The whole story again, last event first: all of it is old news.
  for (const step of [...steps].reverse()) await s.deliver(step);
  expect(await showTicket(s.ticketId)).toEqual(final);
  expect(await isListed(s.ticketId)).toBe(false);
}

describe('order events of one ticket, in every delivery order', () => {
  it.each(permutations<Step>(['createdA', 'cancelledA', 'createdB']).map((p) => [p.join(', '), p]))(
    'ends held by B, unlisted and not editable: %s',
    async (_name, steps) => {
      await playAndCheck(steps);
    },
  );

  it.each(permutations<Step>(['createdA', 'cancelledA', 'createdB', 'completedB']).map((p) => [p.join(', '), p]))(
    'ends sold to B, unlisted and not editable: %s',
    async (_name, steps) => {
      await playAndCheck(steps);
    },
  );
});

describe('a sold ticket', () => {
  it('is never held by another order, even one whose order:created arrives after the sale', async () => {
    const s = await story();
    await s.deliver('createdB');
    await s.deliver('completedB');
    const sold = await showTicket(s.ticketId);
    const latecomer = orderCreated(s.ticketId, { expiresAt: new Date(Date.now() + 60 * 60_000).toISOString() });

    await created.publish(latecomer);
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);

    // Heard of (a change: a new version), but the ticket stays sold to B.
    const after = await showTicket(s.ticketId);
    expect(after).toMatchObject({ orderId: s.b, sold: true, version: sold.version + 1 });
    expect(await isListed(s.ticketId)).toBe(false);
  });
});
