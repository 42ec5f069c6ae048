import { Publisher, Subjects, encodeCursor, type TicketCreatedEvent, type TicketUpdatedEvent } from '@ticketing/common';
import { closeTestMongo, connectTestMongo, eventually } from '@ticketing/common/testing';
import request from 'supertest';
import { Ticket, type TicketJson } from '../models/ticket';
import { changeTicket } from '../services/ticket-lifecycle';
import { createTicket, newId, startTickets, storeTicket, type TicketsHarness } from './harness';

class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}

class TicketUpdatedPublisher extends Publisher<TicketUpdatedEvent> {
  readonly subject = Subjects.TicketUpdated;
}

interface Page {
  tickets: TicketJson[];
  nextCursor: string | null;
}

let svc: TicketsHarness;

beforeAll(async () => {
  await connectTestMongo();
  await Ticket.init();
  svc = await startTickets();
});

afterAll(async () => {
  await svc.close();
  await closeTestMongo();
});

// The listing covers the whole collection, so each test starts from an empty one.
beforeEach(async () => {
  await Ticket.deleteMany({});
});

async function storeMany(count: number): Promise<string[]> {
  const ids: string[] = [];
  // One at a time: ids then grow in creation order, which is the listing's order (newest first).
  for (let i = 0; i < count; i += 1) ids.push((await createTicket(svc.app, undefined, { title: `Ticket ${i}` })).id);
  return ids;
}

async function getPage(query: Record<string, string> = {}): Promise<Page> {
  const res = await request(svc.app).get('/api/tickets').query(query).expect(200);
  return res.body as Page;
}

describe('GET /api/tickets', () => {
  it('answers an empty page with a null cursor when there is nothing for sale', async () => {
    expect(await getPage()).toEqual({ tickets: [], nextCursor: null });
  });

  it('returns 20 tickets by default, newest first, with a cursor to the next page', async () => {
    const ids = await storeMany(25);

    const first = await getPage();
    const second = await getPage({ cursor: first.nextCursor as string });

    expect(first.tickets.map((t) => t.id)).toEqual(ids.slice(5).reverse());
    expect(first.nextCursor).toEqual(expect.any(String));
    expect(second.tickets.map((t) => t.id)).toEqual(ids.slice(0, 5).reverse());
    expect(second.nextCursor).toBeNull();
  });

  it('pages through every ticket exactly once with a small limit', async () => {
    const ids = await storeMany(7);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;

    do {
      const page: Page = await getPage({ limit: '3', ...(cursor === null ? {} : { cursor }) });
      expect(page.tickets.length).toBeLessThanOrEqual(3);
      seen.push(...page.tickets.map((t) => t.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null);

    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it('gives a null cursor when the last page is exactly full', async () => {
    await storeMany(4);

    const page = await getPage({ limit: '4' });

    expect(page.tickets).toHaveLength(4);
    expect(page.nextCursor).toBeNull();
  });

  it('lists only tickets that no order holds', async () => {
    const free = await createTicket(svc.app, undefined, { title: 'Free' });
    const reserved = await createTicket(svc.app, undefined, { title: 'Reserved' });
    await changeTicket(svc.relay, reserved.id, (t) => {
      t.orderId = newId();
      return true;
    });

    const page = await getPage();

    expect(page.tickets.map((t) => t.title)).toEqual(['Free']);
    expect(page.tickets[0]).toEqual({ id: free.id, title: 'Free', price: 20, userId: free.userId, version: 0 });
  });

  it('lists a ticket another replica stored, from its ticket:created event', async () => {
    // Stored by another process: this replica learns of it only from the bus.
    const elsewhere = await storeTicket({ title: 'Elsewhere' });
    await new TicketCreatedPublisher(svc.bus).publish({
      id: String(elsewhere._id),
      version: 0,
      title: 'Elsewhere',
      price: 20,
      userId: elsewhere.userId,
    });

    await eventually(async () => expect((await getPage()).tickets.map((t) => t.title)).toEqual(['Elsewhere']));
  });

  it('drops a ticket another replica reserved, from its ticket:updated event', async () => {
    const ticket = await createTicket(svc.app, undefined, { title: 'Soon held' });
    const orderId = newId();
    await Ticket.updateOne({ _id: ticket.id }, { $set: { orderId }, $inc: { version: 1 } });
    await new TicketUpdatedPublisher(svc.bus).publish({ ...ticket, version: 1, orderId });

    await eventually(async () => expect((await getPage()).tickets).toEqual([]));
  });

  it('skips a ticket the database says is held even before any event says so, and one deleted by hand', async () => {
    const kept = await createTicket(svc.app, undefined, { title: 'Kept' });
    const held = await createTicket(svc.app, undefined, { title: 'Held' });
    const deleted = await createTicket(svc.app, undefined, { title: 'Deleted' });
    // Written behind the service's back: the listing still has both, the stored copies say otherwise.
    await Ticket.updateOne({ _id: held.id }, { $set: { orderId: newId() }, $inc: { version: 1 } });
    await Ticket.deleteOne({ _id: deleted.id });

    const page = await getPage({ limit: '1' });
    expect(page.tickets.map((t) => t.title)).toEqual(['Kept']);
    expect(page.nextCursor).toBeNull();
    expect(kept.version).toBe(0);
  });

  it('lists, after a start, the tickets stored before it (the listing reads the collection at start)', async () => {
    const before = await storeTicket({ title: 'Stored before the start' });
    await storeTicket({ title: 'Held before the start', orderId: newId() });

    const restarted = await startTickets();
    try {
      const res = await request(restarted.app).get('/api/tickets').expect(200);
      expect((res.body as Page).tickets.map((t) => t.id)).toEqual([String(before._id)]);
    } finally {
      await restarted.close();
    }
  });

  it('accepts the maximum limit of 100', async () => {
    await storeMany(2);

    expect((await getPage({ limit: '100' })).tickets).toHaveLength(2);
  });

  it.each(['0', '101', 'abc', '1.5', '-1', ''])('rejects limit=%p with 400', async (limit) => {
    const res = await request(svc.app).get('/api/tickets').query({ limit });

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'limit', code: 'VALIDATION_FAILED' });
  });

  it('rejects a repeated limit with 400', async () => {
    const res = await request(svc.app).get('/api/tickets?limit=2&limit=3');

    expect(res.status).toBe(400);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['an encoded non-id', encodeCursor('hello world')],
    ['a raw id instead of the encoded cursor', '64b7f0c2a1b2c3d4e5f60718'],
  ])('rejects %s as a cursor with 400 INVALID_CURSOR', async (_case, cursor) => {
    const res = await request(svc.app).get('/api/tickets').query({ cursor });

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'cursor', code: 'INVALID_CURSOR' });
  });
});
