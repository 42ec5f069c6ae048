import { Subjects, makeClientId, type Bus, StanBus } from '@ticketing/common';
import { startNatsStreaming, type NatsStreamingServer } from '@ticketing/devinfra';
import { closeTestMongo, connectTestMongo, silentLogger } from '@ticketing/common/testing';
import request from 'supertest';
import { Ticket } from '../models/ticket';
import {
  OrderCancelledPublisher,
  OrderCreatedPublisher,
  createTicket,
  orderCancelled,
  orderCreated,
  signin,
  startTickets,
  type TicketsHarness,
} from './harness';

// A private server: restarting the shared one would disturb every other test file.
let server: NatsStreamingServer;
let bus: Bus;
let svc: TicketsHarness;

beforeAll(async () => {
  await connectTestMongo();
  await Ticket.init();
  server = await startNatsStreaming({ store: 'memory' });
  bus = new StanBus({
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId('test-tickets-restart'),
    logger: silentLogger,
    pingIntervalMs: 500,
    maxPingOut: 3,
    retryDelayMs: { min: 50, max: 500 },
  });
  await bus.connect();
  svc = await startTickets({ bus, listeners: true });
}, 30_000);

afterAll(async () => {
  await svc.close();
  await server.stop();
  await closeTestMongo();
});

function nextConnect(timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bus did not reconnect within ${timeoutMs} ms`)), timeoutMs);
    bus.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('the tickets service across a restart of NATS Streaming', () => {
  it('reconnects, keeps consuming order events and publishes again', async () => {
    const userId = '64b7f0c2a1b2c3d4e5f60718';
    const ticket = await createTicket(svc.app, signin(userId));
    const order = orderCreated(ticket.id);
    await new OrderCreatedPublisher(bus).publish(order);
    await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticket.id && d.version === 1);

    const reconnected = nextConnect();
    await server.restart();
    await reconnected;

    // The listener was subscribed again on the new connection: the cancellation is consumed.
    await new OrderCancelledPublisher(bus).publish(orderCancelled(ticket.id, order.id));
    const released = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticket.id && d.version === 2);
    expect(released).toEqual({ id: ticket.id, version: 2, title: 'Concert', price: 20, userId });
    expect(await Ticket.findById(ticket.id).lean()).not.toHaveProperty('orderId');

    // And the service publishes again: a new ticket's ticket:created reaches the probe.
    const fresh = await createTicket(svc.app, signin(userId), { title: 'After restart' });
    expect(await svc.probe.waitFor(Subjects.TicketCreated, (d) => d.id === fresh.id)).toMatchObject({
      version: 0,
      title: 'After restart',
    });
    await request(svc.app).get('/readyz').expect(200);
  });
});
