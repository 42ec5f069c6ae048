import { closeTestMongo, connectTestMongo } from '@ticketing/common/testing';
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

describe('GET /api/tickets/:id', () => {
  it('returns a ticket to anyone, with its decimal price and no internals', async () => {
    const userId = newId();
    const created = await createTicket(svc.app, signin(userId), { title: 'Jazz', price: 12.34 });

    const res = await request(svc.app).get(`/api/tickets/${created.id}`);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: created.id, title: 'Jazz', price: 12.34, userId, version: 0 });
  });

  it('shows the holding order of a reserved ticket', async () => {
    const orderId = newId();
    const ticket = await storeTicket({ orderId });

    const res = await request(svc.app).get(`/api/tickets/${String(ticket._id)}`);

    expect(res.status).toBe(200);
    expect(res.body.orderId).toBe(orderId);
  });

  it('answers 404 TICKET_NOT_FOUND for an id that does not exist', async () => {
    const res = await request(svc.app).get(`/api/tickets/${newId()}`);

    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('TICKET_NOT_FOUND');
  });

  it.each(['not-an-id', '123', 'zzzzzzzzzzzzzzzzzzzzzzzz'])('answers 400 for the malformed id %p', async (id) => {
    const res = await request(svc.app).get(`/api/tickets/${id}`);

    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'id', code: 'VALIDATION_FAILED' });
  });
});
