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
import { loadTicketsConfig } from './config';
import { OrderCancelledListener } from './events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from './events/listeners/order-completed-listener';
import { OrderCreatedListener } from './events/listeners/order-created-listener';
import { Ticket } from './models/ticket';
import { startTicketListing } from './services/listing';

const logger = createLogger('tickets');

runService('tickets', logger, async () => {
  const config = loadTicketsConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'tickets', logger);
  await connectMongo(config.MONGO_URI, { logger });
  await Ticket.init();
  const bus = await connectServiceBus('tickets', config, logger);
  // Before listening: no request is answered before every earlier signout is known.
  const revocations = await startSessionRevocations({ bus, logger, lookbackSeconds: config.JWT_EXPIRES_IN_SECONDS });

  // Publishes what earlier requests stored but could not publish (a crash, a bus outage).
  const relay = new OutboxRelay({ bus, models: [Ticket], logger });
  relay.start();

  new OrderCreatedListener(bus, logger, relay).listen();
  new OrderCancelledListener(bus, logger, relay).listen();
  new OrderCompletedListener(bus, logger, relay).listen();

  // Before the app answers: the listing is complete once its first scan is done.
  const { listing, stop: stopListing } = await startTicketListing(bus, logger);

  const app = buildApp({
    config,
    logger,
    readiness: { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    relay,
    listing,
    revocations,
  });
  return [
    await listenHttp(app, config.PORT, 'tickets', logger),
    { name: 'revocations', close: () => revocations.stop() },
    { name: 'listing', close: () => Promise.resolve(stopListing()) },
    { name: 'outbox', close: () => relay.stop() },
    { name: 'bus', close: () => bus.close() },
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
