import {
  OutboxRelay,
  connectMongo,
  connectServiceBus,
  createLogger,
  isMongoConnected,
  listenHttp,
  startSessionRevocations,
  listenMetrics,
  runService,
} from '@ticketing/common';
import mongoose from 'mongoose';
import { buildApp } from './app';
import { loadPaymentsConfig } from './config';
import { OrderCancelledListener } from './events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from './events/listeners/order-completed-listener';
import { OrderCreatedListener } from './events/listeners/order-created-listener';
import { Order } from './models/order';
import { Payment } from './models/payment';
import { PaymentReconciler } from './services/reconciler';
import { createStripeClient } from './stripe';

const logger = createLogger('payments');

runService('payments', logger, async () => {
  const config = loadPaymentsConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'payments', logger);
  await connectMongo(config.MONGO_URI, { logger });
  // The unique orderId index is what lets only one of concurrent payments of an order charge.
  await Promise.all([Order.init(), Payment.init()]);
  const bus = await connectServiceBus('payments', config, logger);
  // Before listening: no request is answered before every earlier signout is known.
  const revocations = await startSessionRevocations({ bus, logger, lookbackSeconds: config.JWT_EXPIRES_IN_SECONDS });

  const relay = new OutboxRelay({ bus, models: [Payment], logger });
  relay.start();

  const stripe = createStripeClient(config);
  new OrderCreatedListener(bus, logger).listen();
  new OrderCancelledListener(bus, logger, stripe).listen();
  new OrderCompletedListener(bus, logger).listen();

  // Settles payments whose outcome is unknown, and those a crash left pending (services/reconciler.ts).
  const reconciler = new PaymentReconciler({
    stripe,
    relay,
    logger: logger.child({ component: 'reconciler' }),
    intervalMs: config.RECONCILE_INTERVAL_MS,
    leaseMs: config.RECONCILE_LEASE_MS,
    pendingAfterMs: config.RECONCILE_PENDING_AFTER_MS,
  });
  reconciler.start();

  const app = buildApp(
    config,
    logger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    { stripe, relay, claimLeaseMs: config.RECONCILE_PENDING_AFTER_MS },
    revocations,
  );
  return [
    await listenHttp(app, config.PORT, 'payments', logger),
    { name: 'revocations', close: () => revocations.stop() },
    { name: 'reconciler', close: () => reconciler.stop() },
    { name: 'outbox', close: () => relay.stop() },
    { name: 'bus', close: () => bus.close() },
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
