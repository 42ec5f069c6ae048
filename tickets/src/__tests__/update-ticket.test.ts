import { Subjects } from '@ticketing/common';
import { EventProbe, closeTestMongo, connectTestMongo, eventually } from '@ticketing/common/testing';
import request from 'supertest';
import { Ticket } from '../models/ticket';
import { createTicket, newId, signin, startTickets, storeTicket, type TicketsHarness } from './harness';

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

function put(id: string, body: unknown, cookie?: string[]) {
  const req = request(svc.app).put(`/api/tickets/${id}`);
  return (cookie === undefined ? req : req.set('Cookie', cookie)).send(body as object);
}

describe('PUT /api/tickets/:id', () => {
  it('refuses an anonymous caller with 401', async () => {
    const ticket = await createTicket(svc.app);

    const res = await put(ticket.id, { title: 'Changed', price: 1 });

    expect(res.status).toBe(401);
    expect((await Ticket.findById(ticket.id).lean())?.title).toBe('Concert');
  });

  it('refuses a signed-in user who is not the seller with 403 FORBIDDEN and changes nothing', async () => {
    const ticket = await createTicket(svc.app, signin());

    const res = await put(ticket.id, { title: 'Mine now', price: 1 }, signin());

    expect(res.status).toBe(403);
    expect(res.body.errors[0].code).toBe('FORBIDDEN');
    expect(await Ticket.findById(ticket.id).lean()).toMatchObject({ title: 'Concert', priceCents: 2000, version: 0 });
  });

  it('answers 404 for a ticket that does not exist', async () => {
    const res = await put(newId(), { title: 'Ghost', price: 1 }, signin());

    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('TICKET_NOT_FOUND');
  });

  it('answers 400 for a malformed id', async () => {
    const res = await put('nope', { title: 'Ghost', price: 1 }, signin());

    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('id');
  });

  it.each([
    ['an empty title', { title: '  ', price: 10 }, 'title'],
    ['a price with three decimals', { title: 'Ok', price: 10.001 }, 'price'],
    ['a price given as a string', { title: 'Ok', price: '10' }, 'price'],
    ['a negative price', { title: 'Ok', price: -1 }, 'price'],
  ])('rejects %s with 400', async (_case, body, field) => {
    const cookie = signin();
    const ticket = await createTicket(svc.app, cookie);

    const res = await put(ticket.id, body, cookie);

    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe(field);
    expect((await Ticket.findById(ticket.id).lean())?.version).toBe(0);
  });

  it('updates the ticket, bumps its version and publishes ticket:updated with that version', async () => {
    const userId = newId();
    const cookie = signin(userId);
    const ticket = await createTicket(svc.app, cookie, { title: 'Old', price: 10 });

    const res = await put(ticket.id, { title: ' New title ', price: 15.5 }, cookie);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: ticket.id, title: 'New title', price: 15.5, userId, version: 1 });
    expect(await Ticket.findById(ticket.id).lean()).toMatchObject({ title: 'New title', priceCents: 1550, version: 1 });
    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticket.id);
    expect(event).toEqual({ id: ticket.id, version: 1, title: 'New title', price: 15.5, userId });
  });

  it('publishes one ticket:updated per edit, with versions 1, 2, 3 in turn', async () => {
    const cookie = signin();
    const ticket = await createTicket(svc.app, cookie);

    for (const price of [11, 12, 13]) await put(ticket.id, { title: 'Concert', price }, cookie).expect(200);

    await eventually(() =>
      expect(
        svc.probe
          .of(Subjects.TicketUpdated)
          .filter((d) => d.id === ticket.id)
          .map((d) => [d.version, d.price]),
      ).toEqual([
        [1, 11],
        [2, 12],
        [3, 13],
      ]),
    );
  });

  it('answers 200 without a new version or event when nothing changes', async () => {
    const probe = new EventProbe(svc.bus, [Subjects.TicketUpdated]);
    const cookie = signin();
    const ticket = await createTicket(svc.app, cookie, { title: 'Same', price: 9.99 });
    const changed = await createTicket(svc.app, cookie, { title: 'Other', price: 1 });

    const res = await put(ticket.id, { title: 'Same', price: 9.99 }, cookie);
    // A later real edit on the same bus: once its event is seen, an event for the first would be too.
    await put(changed.id, { title: 'Other', price: 2 }, cookie).expect(200);

    expect(res.status).toBe(200);
    expect(res.body.version).toBe(0);
    await probe.waitFor(Subjects.TicketUpdated, (d) => d.id === changed.id);
    expect(probe.of(Subjects.TicketUpdated).filter((d) => d.id === ticket.id)).toEqual([]);
  });

  it('refuses to edit a reserved ticket with 400 TICKET_RESERVED', async () => {
    const userId = newId();
    const ticket = await storeTicket({ userId, title: 'Held', orderId: newId() });

    const res = await put(String(ticket._id), { title: 'Sneaky', price: 1 }, signin(userId));

    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('TICKET_RESERVED');
    expect(await Ticket.findById(ticket._id).lean()).toMatchObject({ title: 'Held', version: 0 });
  });

  it('applies concurrent edits by the seller one after the other, each with its own version', async () => {
    const cookie = signin();
    const ticket = await createTicket(svc.app, cookie);

    const results = await Promise.all(
      [21, 22, 23, 24].map((price) => put(ticket.id, { title: 'Concert', price }, cookie)),
    );

    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await Ticket.findById(ticket.id).lean())?.version).toBe(4);
    await eventually(() =>
      expect(
        svc.probe
          .of(Subjects.TicketUpdated)
          .filter((d) => d.id === ticket.id)
          .map((d) => d.version)
          .sort(),
      ).toEqual([1, 2, 3, 4]),
    );
  });
});
