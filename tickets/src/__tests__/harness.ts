import {
  OrderStatus,
  OutboxRelay,
  Publisher,
  Subjects,
  countUnpublished,
  type Bus,
  type BusOptions,
  type OrderCancelledEvent,
  type OrderCompletedEvent,
  type OrderCreatedEvent,
} from '@ticketing/common';
import {
  EventProbe,
  TEST_JWT_KEY,
  connectTestBus,
  eventually,
  sessionCookie,
  silentLogger,
} from '@ticketing/common/testing';
import type { Express } from 'express';
import mongoose from 'mongoose';
import request from 'supertest';
import { buildApp } from '../app';
import { OrderCancelledListener } from '../events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from '../events/listeners/order-completed-listener';
import { OrderCreatedListener } from '../events/listeners/order-created-listener';
import { startTicketListing } from '../services/listing';
import { Ticket, buildTicket, stageTicketCreated, type TicketDoc, type TicketJson } from '../models/ticket';

/**
 * The tickets service as its tests see it: the real app on a real bus, with the outbox relay
 * running, a probe recording what the service publishes and, when asked, the service's listeners
 * (with a 1 s ack wait so that redeliveries come quickly).
 */
export interface TicketsHarness {
  app: Express;
  bus: Bus;
  relay: OutboxRelay;
  probe: EventProbe;
  close(): Promise<void>;
}

export async function startTickets(
  opts: { listeners?: boolean; bus?: Bus; busOverrides?: Partial<BusOptions> } = {},
): Promise<TicketsHarness> {
  const bus = opts.bus ?? (await connectTestBus('tickets', opts.busOverrides));
  const relay = new OutboxRelay({ bus, models: [Ticket], logger: silentLogger, retryIntervalMs: 100 });
  relay.start();
  const probe = new EventProbe(bus, [Subjects.TicketCreated, Subjects.TicketUpdated]);
  if (opts.listeners === true) {
    new OrderCreatedListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
    new OrderCancelledListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
    new OrderCompletedListener(bus, silentLogger, relay, { ackWaitMs: 1_000 }).listen();
  }
  const { listing, stop: stopListing } = await startTicketListing(bus, silentLogger, { ackWaitMs: 1_000 });
  const app = buildApp({
    config: { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test' },
    logger: silentLogger,
    readiness: { bus: () => bus.isConnected },
    relay,
    listing,
  });
  return {
    app,
    bus,
    relay,
    probe,
    close: async () => {
      stopListing();
      await relay.stop();
      await bus.close();
    },
  };
}

export const newId = (): string => new mongoose.Types.ObjectId().toHexString();

export function signin(userId = newId()): string[] {
  return sessionCookie({ id: userId, email: `${userId}@example.com` });
}

/** Creates a ticket through the API, as a seller would. */
export async function createTicket(
  app: Express,
  cookie: string[] = signin(),
  body: { title?: string; price?: number } = {},
): Promise<TicketJson> {
  const res = await request(app)
    .post('/api/tickets')
    .set('Cookie', cookie)
    .send({ title: 'Concert', price: 20, ...body })
    .expect(201);
  return res.body as TicketJson;
}

/** Stores a ticket directly (no event published): arrangement for tests of reading routes. */
export async function storeTicket(
  attrs: { title?: string; priceCents?: number; userId?: string; orderId?: string } = {},
): Promise<TicketDoc> {
  const ticket = buildTicket({
    title: attrs.title ?? 'Concert',
    priceCents: attrs.priceCents ?? 2_000,
    userId: attrs.userId ?? newId(),
  });
  if (attrs.orderId !== undefined) ticket.orderId = attrs.orderId;
  return ticket.save();
}

/** Stores a ticket with its ticket:created event and publishes it, as POST /api/tickets does. */
export async function commitNewTicket(relay: OutboxRelay, userId = newId()): Promise<TicketDoc> {
  const ticket = buildTicket({ title: 'Concert', priceCents: 2_000, userId });
  stageTicketCreated(ticket);
  await relay.commit(ticket);
  return ticket;
}

export class OrderCreatedPublisher extends Publisher<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
}

export class OrderCancelledPublisher extends Publisher<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
}

export class OrderCompletedPublisher extends Publisher<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;
}

export function orderCreated(ticketId: string, overrides: Partial<OrderCreatedEvent['data']> = {}) {
  return {
    id: newId(),
    version: 0,
    status: OrderStatus.Created,
    userId: newId(),
    expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    ticket: { id: ticketId, price: 20 },
    ...overrides,
  } satisfies OrderCreatedEvent['data'];
}

export function orderCancelled(ticketId: string, orderId: string): OrderCancelledEvent['data'] {
  return { id: orderId, version: 1, ticket: { id: ticketId } };
}

/** As the orders service publishes it when a payment completes the order (version 1, from created). */
export function orderCompleted(ticketId: string, orderId: string): OrderCompletedEvent['data'] {
  return { id: orderId, version: 1, ticket: { id: ticketId } };
}

interface ChannelStats {
  last_seq: number;
  subscriptions?: Array<{ queue_name?: string; last_sent: number; pending_count: number }>;
}

/**
 * Waits until the server has delivered every message of the channel to the tickets queue group and
 * has every one of them acked: the way to know that a handler has finished with an event that
 * leaves no trace (a duplicate, an event for a ticket held by another order) and will not see it
 * again. Read from the server's monitoring endpoint; when the server (an external one) has none,
 * there is nothing to wait on.
 */
export async function waitUntilAllAcked(bus: Bus, subject: Subjects, timeoutMs = 10_000): Promise<void> {
  const monitorUrl = process.env['TEST_NATS_MONITOR_URL'] ?? '';
  if (monitorUrl === '') return;
  const url = `${monitorUrl}/streaming/channelsz?channel=${encodeURIComponent(bus.channel(subject))}&subs=1`;
  await eventually(
    async () => {
      const stats = (await (await fetch(url)).json()) as ChannelStats;
      const group = (stats.subscriptions ?? []).filter((s) => s.queue_name?.startsWith('tickets-service') === true);
      expect(group.length).toBeGreaterThan(0);
      // Members of a group share the messages: the group got everything when one member got the last.
      expect(Math.max(...group.map((s) => s.last_sent))).toBe(stats.last_seq);
      expect(group.map((s) => s.pending_count)).toEqual(group.map(() => 0));
    },
    { timeoutMs },
  );
}

/** Events of this ticket not yet known to be published (the relay's checkpoint vouches for the rest). */
export function unpublishedOf(ticketId: string): Promise<number> {
  return countUnpublished(Ticket.db, Ticket.collection.collectionName, { _id: new mongoose.Types.ObjectId(ticketId) });
}
