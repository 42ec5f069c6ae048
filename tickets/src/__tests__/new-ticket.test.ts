import { OutboxRelay, Subjects, StanBus } from '@ticketing/common';
import {
  EventProbe,
  TEST_JWT_KEY,
  closeTestMongo,
  connectTestMongo,
  eventually,
  silentLogger,
} from '@ticketing/common/testing';
import request from 'supertest';
import { buildApp } from '../app';
import { Ticket } from '../models/ticket';
import { newId, signin, startTickets, unpublishedOf, type TicketsHarness } from './harness';
import { TicketListing } from '../services/listing';

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

describe('POST /api/tickets', () => {
  it('refuses an anonymous caller with 401 and stores nothing', async () => {
    const before = await Ticket.countDocuments();

    const res = await request(svc.app).post('/api/tickets').send({ title: 'Concert', price: 10 });

    expect(res.status).toBe(401);
    expect(res.body.errors[0].code).toBe('NOT_AUTHORIZED');
    expect(await Ticket.countDocuments()).toBe(before);
  });

  it.each([
    ['an empty title', ''],
    ['a title of spaces only', '   '],
    ['a title over 200 characters', 'x'.repeat(201)],
    ['a title that is a number', 42],
    ['a title that is an object', { $gt: '' }],
    ['no title', undefined],
  ])('rejects %s with 400 on the title field', async (_case, title) => {
    const res = await request(svc.app).post('/api/tickets').set('Cookie', signin()).send({ title, price: 10 });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'title', code: 'VALIDATION_FAILED' })]);
  });

  it.each([
    ['zero', 0],
    ['a negative price', -5],
    ['three decimals', 19.999],
    ['a hidden ninth decimal', 19.990000001],
    ['a numeric string', '19.99'],
    ['a word', 'abc'],
    ['null', null],
    ['a boolean', true],
    ['more than a million', 1_000_000.01],
    ['no price', undefined],
  ])('rejects %s as a price with 400', async (_case, price) => {
    const res = await request(svc.app).post('/api/tickets').set('Cookie', signin()).send({ title: 'Concert', price });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'price', code: 'VALIDATION_FAILED' })]);
  });

  it('creates a ticket with 201, trimming the title and keeping the price exact in cents', async () => {
    const userId = newId();

    const res = await request(svc.app)
      .post('/api/tickets')
      .set('Cookie', signin(userId))
      .send({ title: '  Opera night  ', price: 19.99 });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), title: 'Opera night', price: 19.99, userId, version: 0 });
    const stored = await Ticket.findById(res.body.id).lean();
    expect(stored).toMatchObject({ title: 'Opera night', priceCents: 1999, userId, version: 0 });
    expect(stored?.orderId).toBeUndefined();
  });

  it.each([0.01, 0.29, 1.15, 4.35, 19.99, 999_999.99, 1_000_000])(
    'stores %p exactly and returns it unchanged',
    async (price) => {
      const res = await request(svc.app).post('/api/tickets').set('Cookie', signin()).send({ title: 'Gig', price });

      expect(res.status).toBe(201);
      expect(res.body.price).toBe(price);
      expect((await Ticket.findById(res.body.id).lean())?.priceCents).toBe(Math.round(price * 100));
    },
  );

  it('ignores a seller, reservation or version sent by the client', async () => {
    const userId = newId();

    const res = await request(svc.app)
      .post('/api/tickets')
      .set('Cookie', signin(userId))
      .send({ title: 'Sneaky', price: 5, userId: newId(), orderId: newId(), version: 7 });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), title: 'Sneaky', price: 5, userId, version: 0 });
  });

  it('accepts a title of exactly 200 characters', async () => {
    const title = 't'.repeat(200);

    const res = await request(svc.app).post('/api/tickets').set('Cookie', signin()).send({ title, price: 5 });

    expect(res.status).toBe(201);
    expect(res.body.title).toBe(title);
  });

  it('publishes ticket:created with version 0 and the decimal price, then checkpoints it as published', async () => {
    const userId = newId();

    const res = await request(svc.app)
      .post('/api/tickets')
      .set('Cookie', signin(userId))
      .set('X-Request-Id', 'req-new-ticket-1')
      .send({ title: 'Ballet', price: 42.5 })
      .expect(201);

    const event = await svc.probe.waitFor(Subjects.TicketCreated, (d) => d.id === res.body.id);
    expect(event).toEqual({ id: res.body.id, version: 0, title: 'Ballet', price: 42.5, userId });
    const envelope = svc.probe.events.find((e) => e.subject === Subjects.TicketCreated && e.data === event);
    expect(envelope?.requestId).toBe('req-new-ticket-1');
    await eventually(async () => expect(await unpublishedOf(res.body.id as string)).toBe(0));
  });

  it('still answers 201 while the bus is down, and the event goes out once a relay can publish', async () => {
    // A bus that never connects: every publish fails, as during an outage.
    const downBus = new StanBus({
      url: 'nats://127.0.0.1:1',
      clusterId: 'ticketing',
      clientId: 'down',
      logger: silentLogger,
    });
    const downRelay = new OutboxRelay({ bus: downBus, models: [Ticket], logger: silentLogger });
    const app = buildApp({
      config: { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test' },
      logger: silentLogger,
      readiness: {},
      relay: downRelay,
      listing: new TicketListing(silentLogger),
    });

    const res = await request(app).post('/api/tickets').set('Cookie', signin()).send({ title: 'Outage', price: 7 });

    expect(res.status).toBe(201);
    const pending = await Ticket.findById(res.body.id).lean();
    expect(pending?.outbox).toEqual([
      expect.objectContaining({ subject: Subjects.TicketCreated, data: expect.objectContaining({ version: 0 }) }),
    ]);
    await downRelay.stop();
    await downBus.close();

    // The service's relay on the live bus sweeps what was left behind.
    await svc.relay.sweep();
    const event = await svc.probe.waitFor(Subjects.TicketCreated, (d) => d.id === res.body.id);
    expect(event).toMatchObject({ title: 'Outage', price: 7, version: 0 });
    expect(await unpublishedOf(res.body.id as string)).toBe(0);
  });

  it('publishes exactly one event per ticket created', async () => {
    const probe = new EventProbe(svc.bus, [Subjects.TicketCreated]);
    const cookie = signin();

    const created = await Promise.all(
      [1, 2, 3].map((n) =>
        request(svc.app)
          .post('/api/tickets')
          .set('Cookie', cookie)
          .send({ title: `Batch ${n}`, price: n }),
      ),
    );

    const ids = created.map((r) => r.body.id as string);
    await eventually(() => expect(probe.of(Subjects.TicketCreated).filter((d) => ids.includes(d.id))).toHaveLength(3));
    expect(new Set(probe.of(Subjects.TicketCreated).map((d) => d.id)).size).toBe(
      probe.of(Subjects.TicketCreated).length,
    );
  });
});
