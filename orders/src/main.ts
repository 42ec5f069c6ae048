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
import { loadOrdersConfig } from './config';
import { ExpirationCompleteListener } from './events/listeners/expiration-complete-listener';
import { PaymentCreatedListener } from './events/listeners/payment-created-listener';
import { TicketCreatedListener } from './events/listeners/ticket-created-listener';
import { TicketUpdatedListener } from './events/listeners/ticket-updated-listener';
import { Order } from './models/order';
import { RefundRequest } from './models/refund-request';
import { Ticket } from './models/ticket';
import { reconcileOrderIndex } from './services/order-index';

const logger = createLogger('orders');

runService('orders', logger, async () => {
  const config = loadOrdersConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'orders', logger);
  await connectMongo(config.MONGO_URI, { logger });
  // The unique ticketLock index is what prevents double booking: it must exist before the first order.
  await Promise.all([Order.init(), Ticket.init(), RefundRequest.init()]);
  const bus = await connectServiceBus('orders', config, logger);
  // Before listening: no request is answered before every earlier signout is known.
  const revocations = await startSessionRevocations({ bus, logger, lookbackSeconds: config.JWT_EXPIRES_IN_SECONDS });

  const relay = new OutboxRelay({ bus, models: [Order], logger });
  relay.start();
  // In the background: the lists of orders are right for every order this version stores, the scan
  // only repairs (see services/order-index.ts).
  reconcileOrderIndex(logger).catch((err: unknown) => logger.warn({ err }, 'order list reconciliation failed'));

  new TicketCreatedListener(bus, logger).listen();
  new TicketUpdatedListener(bus, logger).listen();
  new ExpirationCompleteListener(bus, logger, relay).listen();
  new PaymentCreatedListener(bus, logger, relay).listen();

  const app = buildApp(
    config,
    logger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    relay,
    revocations,
  );
  return [
    await listenHttp(app, config.PORT, 'orders', logger),
    { name: 'revocations', close: () => revocations.stop() },
    { name: 'outbox', close: () => relay.stop() },
    { name: 'bus', close: () => bus.close() },
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
