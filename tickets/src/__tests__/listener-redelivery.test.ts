import { Subjects, type MessageContext, type OrderCreatedEvent } from '@ticketing/common';
import { closeTestMongo, connectTestMongo, eventually, silentLogger } from '@ticketing/common/testing';
import { OrderCreatedListener } from '../events/listeners/order-created-listener';
import { Ticket } from '../models/ticket';
import {
  OrderCreatedPublisher,
  commitNewTicket,
  orderCreated,
  startTickets,
  waitUntilAllAcked,
  type TicketsHarness,
} from './harness';

/** The real listener behind a first delivery that fails, as when the database blips. */
class FailsOnceOrderCreatedListener extends OrderCreatedListener {
  readonly deliveries: MessageContext[] = [];

  // The production listener ignores the context; the base class always passes it.
  override async onMessage(data: OrderCreatedEvent['data'], ctx?: MessageContext): Promise<void> {
    if (ctx !== undefined) this.deliveries.push(ctx);
    if (this.deliveries.length === 1) throw new Error('database hiccup');
    await super.onMessage(data);
  }
}

let svc: TicketsHarness;
let listener: FailsOnceOrderCreatedListener;

beforeAll(async () => {
  await connectTestMongo();
  await Ticket.init();
  svc = await startTickets();
  // The only member of the tickets queue group on this file's channels.
  listener = new FailsOnceOrderCreatedListener(svc.bus, silentLogger, svc.relay, { ackWaitMs: 1_000 }).listen();
});

afterAll(async () => {
  await svc.close();
  await closeTestMongo();
});

describe('order:created handled by a listener that fails once', () => {
  it('leaves the event unacked, gets it again after the ack wait and then reserves the ticket once', async () => {
    const ticket = await commitNewTicket(svc.relay);
    const ticketId = String(ticket._id);
    const order = orderCreated(ticketId);

    await new OrderCreatedPublisher(svc.bus).publish(order);

    await eventually(async () => expect(await Ticket.findById(ticketId).lean()).toMatchObject({ orderId: order.id }), {
      timeoutMs: 10_000,
    });
    expect(listener.deliveries.map((d) => d.redelivered)).toEqual([false, true]);
    expect(listener.deliveries[1]?.eventId).toBe(listener.deliveries[0]?.eventId);
    await waitUntilAllAcked(svc.bus, Subjects.OrderCreated);
    const event = await svc.probe.waitFor(Subjects.TicketUpdated, (d) => d.id === ticketId);
    expect(event).toMatchObject({ version: 1, orderId: order.id });
    expect(svc.probe.of(Subjects.TicketUpdated).filter((d) => d.id === ticketId)).toHaveLength(1);
  });
});
