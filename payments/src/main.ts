import {
  Bus,
  ConfigError,
  OutboxRelay,
  closeHttpServer,
  connectMongo,
  createLogger,
  handleShutdown,
  installProcessHandlers,
  isMongoConnected,
  makeClientId,
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

async function start(): Promise<void> {
  installProcessHandlers(logger);
  const config = loadPaymentsConfig();
  await connectMongo(config.MONGO_URI, { logger });
  // The unique orderId index is what lets only one of concurrent payments of an order charge.
  await Promise.all([Order.init(), Payment.init()]);

  const bus = new Bus({
    url: config.NATS_URL,
    clusterId: config.NATS_CLUSTER_ID,
    clientId: makeClientId('payments', config.NATS_CLIENT_ID),
    logger,
  });
  await bus.connect();
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
  const server = app.listen(config.PORT, () => logger.info({ port: config.PORT }, 'payments listening'));

  handleShutdown({
    logger,
    steps: [
      { name: 'http', close: () => closeHttpServer(server) },
      { name: 'outbox', close: () => relay.stop() },
      { name: 'bus', close: () => bus.close() },
      { name: 'mongo', close: () => mongoose.disconnect() },
    ],
  });
}

start().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'payments failed to start');
  process.exit(1);
});
