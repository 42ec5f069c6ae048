import { OutboxRelay, Subjects, isMongoConnected, type Bus } from '@ticketing/common';
import {
  EventProbe,
  TEST_JWT_KEY,
  closeTestMongo,
  connectTestBus,
  connectTestMongo,
  sessionCookie,
  silentLogger,
} from '@ticketing/common/testing';
import type { Express } from 'express';
import { Types } from 'mongoose';
import { buildApp } from '../app';
import { Order, type OrderDoc } from '../models/order';
import { RefundRequest } from '../models/refund-request';
import { Ticket, type TicketDoc } from '../models/ticket';

/**
 * What every orders test file needs: this file's database (indexes built), a real bus on this file's
 * channels, the outbox relay, the app and a probe on the events orders publishes.
 */
export interface OrdersHarness {
  bus: Bus;
  relay: OutboxRelay;
  app: Express;
  probe: EventProbe;
  close(): Promise<void>;
}

export const EXPIRATION_WINDOW_SECONDS = 900;

export async function startOrders(name: string): Promise<OrdersHarness> {
  await connectTestMongo();
  // The unique ticketLock index must exist before concurrent requests arrive.
  await Promise.all([Order.init(), Ticket.init(), RefundRequest.init()]);
  const bus = await connectTestBus(`orders-${name}`);
  const relay = new OutboxRelay({ bus, models: [Order], logger: silentLogger });
  relay.start();
  const probe = new EventProbe(bus, [Subjects.OrderCreated, Subjects.OrderCancelled, Subjects.OrderCompleted]);
  const app = buildApp(
    { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS },
    silentLogger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    relay,
  );
  return {
    bus,
    relay,
    app,
    probe,
    async close() {
      await relay.stop();
      await bus.close();
      await closeTestMongo();
    },
  };
}

export const newId = (): string => new Types.ObjectId().toHexString();

export interface TestUser {
  id: string;
  email: string;
  cookie: string[];
}

export function buyer(): TestUser {
  const id = newId();
  const email = `buyer-${id}@example.com`;
  return { id, email, cookie: sessionCookie({ id, email }) };
}

/** A ticket in the replica, as ticket:created would have stored it. */
export function buildTicket(
  attrs: { title?: string; price?: number; version?: number; userId?: string } = {},
): Promise<TicketDoc> {
  return Ticket.create({
    _id: newId(),
    title: attrs.title ?? 'Concert',
    priceCents: Math.round((attrs.price ?? 20) * 100),
    userId: attrs.userId ?? newId(),
    version: attrs.version ?? 0,
  });
}

export function loadOrder(id: string): Promise<OrderDoc | null> {
  return Order.findById(id);
}

/**
 * Waits until the probe has seen everything published on `subject` so far: publishes a marker event
 * and waits for it. A channel keeps its order, so once the marker is in, so is every earlier event,
 * and an assertion that some event was NOT published is no longer a race.
 */
export async function settle(
  h: OrdersHarness,
  subject: Subjects.OrderCancelled | Subjects.OrderCompleted,
): Promise<void> {
  const marker = newId();
  await h.bus.publish(subject, { id: marker, version: 0, ticket: { id: newId() } });
  await h.probe.waitFor(subject, (e) => e.id === marker);
}
