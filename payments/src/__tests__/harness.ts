import { OrderStatus, OutboxRelay, Subjects, isMongoConnected, type Bus } from '@ticketing/common';
import {
  EventProbe,
  TEST_JWT_KEY,
  closeTestMongo,
  connectTestBus,
  connectTestMongo,
  sessionCookie,
  silentLogger,
  testStripeUrl,
} from '@ticketing/common/testing';
import type { Express } from 'express';
import { Types } from 'mongoose';
import type Stripe from 'stripe';
import { buildApp } from '../app';
import { OrderCancelledListener } from '../events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from '../events/listeners/order-completed-listener';
import { OrderCreatedListener } from '../events/listeners/order-created-listener';
import { Order, type OrderDoc } from '../models/order';
import { Payment } from '../models/payment';
import { createStripeClient } from '../stripe';
import { StripeProxy } from './stripe-proxy';

export const TEST_STRIPE_KEY = 'sk_test_123';

/** The Stripe client as main.ts builds it, pointed at `apiBase`, without network retries (fast tests). */
export function stripeClientFor(apiBase: string): Stripe {
  return createStripeClient({
    STRIPE_KEY: TEST_STRIPE_KEY,
    STRIPE_API_BASE: apiBase,
    STRIPE_MAX_NETWORK_RETRIES: 0,
    STRIPE_TIMEOUT_MS: 5_000,
  });
}

export interface PaymentsHarness {
  bus: Bus;
  relay: OutboxRelay;
  stripe: Stripe;
  /** Counts and inspects what reaches stripe-mock. */
  proxy: StripeProxy;
  app: Express;
  probe: EventProbe;
  /** The app with another Stripe client (e.g. one pointed at a dead port). */
  appWith(stripe: Stripe): Express;
  close(): Promise<void>;
}

/**
 * The payments service as main.ts wires it, on this test file's database and bus channels, with
 * its Stripe client behind a counting proxy in front of stripe-mock.
 */
export async function startPayments(name: string, opts: { listeners?: boolean } = {}): Promise<PaymentsHarness> {
  await connectTestMongo();
  // The unique orderId index must exist before concurrent payments arrive.
  await Promise.all([Order.init(), Payment.init()]);
  const bus = await connectTestBus(`payments-${name}`);
  const relay = new OutboxRelay({ bus, models: [Payment], logger: silentLogger });
  relay.start();
  const proxy = new StripeProxy(testStripeUrl());
  await proxy.start();
  const stripe = stripeClientFor(proxy.url);
  const probe = new EventProbe(bus, [Subjects.PaymentCreated]);
  if (opts.listeners !== false) {
    const listenerOpts = { ackWaitMs: 1_000 };
    new OrderCreatedListener(bus, silentLogger, listenerOpts).listen();
    new OrderCancelledListener(bus, silentLogger, stripe, listenerOpts).listen();
    new OrderCompletedListener(bus, silentLogger, listenerOpts).listen();
  }
  const appWith = (client: Stripe): Express =>
    buildApp(
      { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test' },
      silentLogger,
      { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
      { stripe: client, relay },
    );
  return {
    bus,
    relay,
    stripe,
    proxy,
    app: appWith(stripe),
    probe,
    appWith,
    async close() {
      await relay.stop();
      await bus.close();
      await proxy.stop();
      await closeTestMongo();
    },
  };
}

export const newId = (): string => new Types.ObjectId().toHexString();

export interface TestUser {
  id: string;
  cookie: string[];
}

export function buyer(): TestUser {
  const id = newId();
  return { id, cookie: sessionCookie({ id, email: `buyer-${id}@example.com` }) };
}

/** An order in the replica, as order:created would have stored it. */
export function buildOrder(
  attrs: { userId?: string; priceCents?: number; status?: OrderStatus; expiresAt?: Date; version?: number } = {},
): Promise<OrderDoc> {
  return Order.create({
    _id: newId(),
    userId: attrs.userId ?? newId(),
    status: attrs.status ?? OrderStatus.Created,
    priceCents: attrs.priceCents ?? 2_000,
    expiresAt: attrs.expiresAt ?? new Date(Date.now() + 15 * 60_000),
    version: attrs.version ?? 0,
  });
}
