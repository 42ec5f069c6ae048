import { OrderStatus, OutboxRelay, Subjects, isMongoConnected, type Bus } from '@ticketing/common';
import { startStripeTestMode, type StripeTestMode } from '@ticketing/devinfra';
import {
  EventProbe,
  TEST_JWT_KEY,
  closeTestMongo,
  connectTestBus,
  connectTestMongo,
  sessionCookie,
  silentLogger,
  testStripeMockUrl,
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
import { PaymentReconciler } from '../services/reconciler';
import { createStripeClient } from '../stripe';

export const TEST_STRIPE_KEY = 'sk_test_123';

/** The Stripe client as main.ts builds it, pointed at `apiBase`, without network retries (fast tests). */
export function stripeClientFor(apiBase: string, opts: { timeoutMs?: number; retries?: number } = {}): Stripe {
  return createStripeClient({
    STRIPE_KEY: TEST_STRIPE_KEY,
    STRIPE_API_BASE: apiBase,
    STRIPE_MAX_NETWORK_RETRIES: opts.retries ?? 0,
    STRIPE_TIMEOUT_MS: opts.timeoutMs ?? 5_000,
  });
}

export interface PaymentsHarness {
  bus: Bus;
  relay: OutboxRelay;
  stripe: Stripe;
  /** Stripe's test mode in front of stripe-mock: counts and inspects calls, plays faults. */
  proxy: StripeTestMode;
  /** The reconciler as main.ts runs it, with short intervals (started unless `reconcile: false`). */
  reconciler: PaymentReconciler;
  app: Express;
  probe: EventProbe;
  /** The app with another Stripe client (e.g. one pointed at a dead port). */
  appWith(stripe: Stripe): Express;
  close(): Promise<void>;
}

/** The harness's reconciler settings: quick passes, and a request's claim taken as stale after 10 s. */
export const TEST_RECONCILE = { intervalMs: 200, leaseMs: 5_000, pendingAfterMs: 10_000 };

/**
 * The payments service as main.ts wires it, on this test file's database and bus channels, with its
 * Stripe client pointed at this file's own Stripe test mode (in front of the run's stripe-mock).
 */
export async function startPayments(
  name: string,
  opts: { listeners?: boolean; reconcile?: boolean } = {},
): Promise<PaymentsHarness> {
  await connectTestMongo();
  // The unique orderId index must exist before concurrent payments arrive.
  await Promise.all([Order.init(), Payment.init()]);
  const bus = await connectTestBus(`payments-${name}`);
  const relay = new OutboxRelay({ bus, models: [Payment], logger: silentLogger });
  relay.start();
  const proxy = await startStripeTestMode(testStripeMockUrl());
  const stripe = stripeClientFor(proxy.url);
  const reconciler = new PaymentReconciler({ stripe, relay, logger: silentLogger, ...TEST_RECONCILE });
  if (opts.reconcile !== false) reconciler.start();
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
      { stripe: client, relay, claimLeaseMs: TEST_RECONCILE.pendingAfterMs },
    );
  return {
    bus,
    relay,
    stripe,
    proxy,
    reconciler,
    app: appWith(stripe),
    probe,
    appWith,
    async close() {
      await reconciler.stop();
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
