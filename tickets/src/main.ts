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
import { loadTicketsConfig } from './config';
import { OrderCancelledListener } from './events/listeners/order-cancelled-listener';
import { OrderCreatedListener } from './events/listeners/order-created-listener';
import { Ticket } from './models/ticket';

const logger = createLogger('tickets');

async function start(): Promise<void> {
  installProcessHandlers(logger);
  const config = loadTicketsConfig();
  await connectMongo(config.MONGO_URI, { logger });
  await Ticket.init();

  const bus = new Bus({
    url: config.NATS_URL,
    clusterId: config.NATS_CLUSTER_ID,
    clientId: makeClientId('tickets', config.NATS_CLIENT_ID),
    logger,
  });
  await bus.connect();

  // Publishes what earlier requests stored but could not publish (a crash, a bus outage).
  const relay = new OutboxRelay({ bus, models: [Ticket], logger });
  relay.start();

  new OrderCreatedListener(bus, logger, relay).listen();
  new OrderCancelledListener(bus, logger, relay).listen();

  const app = buildApp({
    config,
    logger,
    readiness: { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    relay,
  });
  const server = app.listen(config.PORT, () => logger.info({ port: config.PORT }, 'tickets listening'));

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
  else logger.fatal({ err }, 'tickets failed to start');
  process.exit(1);
});
