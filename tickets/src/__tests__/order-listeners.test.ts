import { Subjects } from '@ticketing/common';
import { closeTestMongo, connectTestMongo, eventually } from '@ticketing/common/testing';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Ticket } from '../models/ticket';
import {
  OrderCancelledPublisher,
  OrderCompletedPublisher,
  OrderCreatedPublisher,
  commitNewTicket,
  newId,
  orderCancelled,
  orderCompleted,
  orderCreated,
  signin,
  startTickets,
  unpublishedOf,
  waitUntilAllAcked,
  type TicketsHarness,
} from './harness';

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

const updatesOf = (ticketId: string) => svc.probe.of(Subjects.TicketUpdated).filter((d) => d.id === ticketId);

/** A ticket reserved by a fresh order, once the reservation's ticket:updated went out. */
async function reservedTicket(userId = newId()) {
  const ticket = await commitNewTicket(svc.relay, userId);
  const ticketId = String(ticket._id);
  const order = orderCreated(ticketId);
  await created.publish(order);
  await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.orderId === order.id);
  return { ticketId, orderId: order.id, userId };
}

describe('order:created', () => {
  it('reserves a free ticket, bumps its version and publishes ticket:updated with the orderId', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);
    const order = orderCreated(ticketId);

    await created.publish(order);

    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId);
    expect(event).toEqual({
      id: ticketId,
      version: 1,
      title: 'Concert',
      price: 20,
      userId: ticket.userId,
      orderId: order.id,
    });
    // The relay checkpoints the entry as published once the server has acked the publish.
    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId: order.id, version: 1 });
    await eventually(async () => expect(await unpublishedOf(ticketId)).toBe(0));
  });

  it('takes the reserved ticket off the listing and refuses the seller an edit', async () => {
    const { ticketId, userId } = await reservedTicket();

    const list = await request(svc.app).get('/api/tickets').query({ limit: '100' }).expect(200);
    const edit = await request(svc.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', signin(userId))
      .send({ title: 'Concert', price: 99 });

    expect(list.body.tickets.map((t: { id: string }) => t.id)).not.toContain(ticketId);
    expect(edit.status).toBe(400);
    expect(edit.body.errors[0].code).toBe('TICKET_RESERVED');
  });

  it('applies a duplicate delivery of the same event once: one version bump, one ticket:updated', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);
    const order = orderCreated(ticketId);
    const eventId = randomUUID();

    // The orders outbox re-publishes with the same event id after a crash: the same event twice.
    await created.publish(order, { id: eventId });
    await created.publish(order, { id: eventId });
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);

    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId);
    expect(updatesOf(ticketId)).toHaveLength(1);
    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId: order.id, version: 1 });
  });

  it('keeps the ticket held when a second order is heard of while the first still holds it', async () => {
    const { ticketId } = await reservedTicket();
    // The orders service let B hold the ticket, so A's cancellation is on its way on its own channel.
    const second = orderCreated(ticketId, { expiresAt: new Date(Date.now() + 16 * 60_000).toISOString() });

    await created.publish(second);
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);

    // News is a change: a new version and its ticket:updated, naming the order created last.
    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(event.orderId).toBe(second.id);
    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId: second.id, version: 2 });
  });

  it('acks an order for a ticket it does not know without creating anything', async () => {
    const ticketId = newId();

    await created.publish(orderCreated(ticketId));
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);

    expect(await Ticket.findById(ticketId).lean()).toBeNull();
    expect(updatesOf(ticketId)).toEqual([]);
  });

  it('carries the request id of the order into the ticket:updated it causes', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);

    await created.publish(orderCreated(ticketId), { requestId: 'req-order-42' });

    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId);
    const envelope = svc.probe.events.find(
      (e) => e.subject === Subjects.TicketUpdated && (e.data as { id: string }).id === ticketId,
    );
    expect(envelope?.requestId).toBe('req-order-42');
  });
});

describe('order:cancelled', () => {
  it('releases the ticket (orderId unset), bumps its version and publishes ticket:updated without orderId', async () => {
    const { ticketId, orderId, userId } = await reservedTicket();

    await cancelled.publish(orderCancelled(ticketId, orderId));

    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(event).toEqual({ id: ticketId, version: 2, title: 'Concert', price: 20, userId });
    expect(event).not.toHaveProperty('orderId');
    const stored = await Ticket.findById(ticketId).lean();
    expect(stored).toMatchObject({ version: 2 });
    // Unset, not null: the field is gone from the document.
    expect(stored).not.toHaveProperty('orderId');
  });

  it('puts the released ticket back on sale: listed and editable by its seller', async () => {
    const { ticketId, orderId, userId } = await reservedTicket();
    await cancelled.publish(orderCancelled(ticketId, orderId));
    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);

    const list = await request(svc.app).get('/api/tickets').query({ limit: '100' }).expect(200);
    const edit = await request(svc.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', signin(userId))
      .send({ title: 'Concert', price: 25 });

    expect(list.body.tickets.map((t: { id: string }) => t.id)).toContain(ticketId);
    expect(edit.status).toBe(200);
    expect(edit.body.version).toBe(3);
  });

  it('keeps the ticket reserved when the cancelled order is not the one holding it', async () => {
    const { ticketId, orderId } = await reservedTicket();

    await cancelled.publish(orderCancelled(ticketId, newId()));
    await waitUntilAllAcked(svc.bus, Subjects.OrderCancelled);

    // Remembered (a versioned change, so a new ticket:updated), and the holder is still the same.
    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId, version: 2 });
    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(event.orderId).toBe(orderId);
  });

  it('releases once when the cancellation is delivered twice', async () => {
    const { ticketId, orderId } = await reservedTicket();
    const eventId = randomUUID();

    await cancelled.publish(orderCancelled(ticketId, orderId), { id: eventId });
    await cancelled.publish(orderCancelled(ticketId, orderId), { id: eventId });
    await waitUntilAllAcked(svc.bus, Subjects.OrderCancelled);

    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(updatesOf(ticketId).map((d) => d.version)).toEqual([1, 2]);
    expect((await Ticket.findById(ticketId).lean())?.version).toBe(2);
  });

  it('never reserves the ticket for an order whose cancellation was handled before its creation', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);
    const late = orderCreated(ticketId);

    await cancelled.publish(orderCancelled(ticketId, late.id));
    await waitUntilAllAcked(svc.bus, Subjects.OrderCancelled);
    await created.publish(late);
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);

    // The cancellation is news (version 1, still free); the creation after it is old news.
    const stored = await Ticket.findById(ticketId).lean();
    expect(stored?.orderId).toBeUndefined();
    expect(stored?.version).toBe(1);
    await eventually(() => expect(updatesOf(ticketId)).toHaveLength(1));
    expect(updatesOf(ticketId)[0]).not.toHaveProperty('orderId');
    const next = orderCreated(ticketId);
    await created.publish(next);
    const reserved = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(reserved.orderId).toBe(next.id);
  });

  it('lets a new order reserve the ticket after a cancellation', async () => {
    const { ticketId, orderId } = await reservedTicket();
    await cancelled.publish(orderCancelled(ticketId, orderId));
    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    const next = orderCreated(ticketId);

    await created.publish(next);

    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 3);
    expect(event.orderId).toBe(next.id);
  });
});

describe('order:completed', () => {
  it('marks the ticket sold to the order: ticket:updated with orderId and sold, once per delivery', async () => {
    const { ticketId, orderId, userId } = await reservedTicket();
    const eventId = randomUUID();

    await completed.publish(orderCompleted(ticketId, orderId), { id: eventId });
    await completed.publish(orderCompleted(ticketId, orderId), { id: eventId });
    await waitUntilAllAcked(svc.bus, Subjects.OrderCompleted);

    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(event).toEqual({ id: ticketId, version: 2, title: 'Concert', price: 20, userId, orderId, sold: true });
    expect(updatesOf(ticketId).map((d) => d.version)).toEqual([1, 2]);
    const shown = await request(svc.app).get(`/api/tickets/${ticketId}`).expect(200);
    expect(shown.body).toMatchObject({ id: ticketId, orderId, sold: true, version: 2 });
  });

  it('refuses the seller an edit of a sold ticket with 400 TICKET_SOLD and keeps it off the listing', async () => {
    const { ticketId, orderId, userId } = await reservedTicket();
    await completed.publish(orderCompleted(ticketId, orderId));
    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.sold === true);

    const edit = await request(svc.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', signin(userId))
      .send({ title: 'Concert', price: 99 });
    const list = await request(svc.app).get('/api/tickets').query({ limit: '100' }).expect(200);

    expect(edit.status).toBe(400);
    expect(edit.body.errors[0]).toMatchObject({ code: 'TICKET_SOLD' });
    expect(list.body.tickets.map((t: { id: string }) => t.id)).not.toContain(ticketId);
    expect((await Ticket.findById(ticketId).lean())?.priceCents).toBe(2_000);
  });

  it('keeps the ticket sold when a cancellation of the same order arrives afterwards', async () => {
    const { ticketId, orderId } = await reservedTicket();
    await completed.publish(orderCompleted(ticketId, orderId));
    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.sold === true);

    // Both carry version 1 of the order; orders never publishes both, but a sale is final here anyway.
    await cancelled.publish(orderCancelled(ticketId, orderId));
    await waitUntilAllAcked(svc.bus, Subjects.OrderCancelled);

    expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId, sold: true, version: 2 });
  });
});

describe("a seller's edit racing a reservation", () => {
  it('applies the reservation on top of an edit that landed first', async () => {
    const userId = newId();
    const ticket = await commitNewTicket(svc.relay, userId);
    const ticketId = String(ticket._id);
    const order = orderCreated(ticketId);

    await request(svc.app)
      .put(`/api/tickets/${ticketId}`)
      .set('Cookie', signin(userId))
      .send({ title: 'Edited', price: 30 })
      .expect(200);
    await created.publish(order);

    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId && d.version === 2);
    expect(event).toEqual({ id: ticketId, version: 2, title: 'Edited', price: 30, userId, orderId: order.id });
  });

  it('ends reserved with one version per change when the edit and the order arrive together', async () => {
    const rounds = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const userId = newId();
        const ticket = await commitNewTicket(svc.relay, userId);
        const ticketId = String(ticket._id);
        const order = orderCreated(ticketId);
        const [edit] = await Promise.all([
          request(svc.app)
            .put(`/api/tickets/${ticketId}`)
            .set('Cookie', signin(userId))
            .send({ title: 'Edited', price: 30 }),
          created.publish(order),
        ]);
        return { ticketId, orderId: order.id, editStatus: edit.status };
      }),
    );

    for (const { ticketId, orderId, editStatus } of rounds) {
      // The edit either landed before the reservation (200) or was refused after it (400).
      expect([200, 400]).toContain(editStatus);
      const versions = editStatus === 200 ? [1, 2] : [1];
      await eventually(() =>
        expect(
          updatesOf(ticketId)
            .map((d) => d.version)
            .sort(),
        ).toEqual(versions),
      );
      expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId, version: versions.length });
      // The latest version always carries the reservation.
      expect(updatesOf(ticketId).find((d) => d.version === versions.length)?.orderId).toBe(orderId);
    }
  });
});
