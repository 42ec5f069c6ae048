import {
  OutboxRelay,
  connectMongo,
  connectServiceBus,
  createLogger,
  isMongoConnected,
  listenHttp,
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

  const relay = new OutboxRelay({ bus, models: [Payment], logger });
  relay.start();

  const stripe = createStripeClient(config);
  new OrderCreatedListener(bus, logger).listen();
  new OrderCancelledListener(bus, logger, stripe).listen();
  new OrderCompletedListener(bus, logger).listen();

  const app = buildApp(
    config,
    logger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    { stripe, relay },
  );
  return [
    listenHttp(app, config.PORT, 'payments', logger),
    { name: 'outbox', close: () => relay.stop() },
    { name: 'bus', close: () => bus.close() },
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
