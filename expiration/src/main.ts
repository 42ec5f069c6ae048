import {
  Bus,
  ConfigError,
  closeHttpServer,
  createLogger,
  handleShutdown,
  installProcessHandlers,
  makeClientId,
} from '@ticketing/common';
import { buildApp } from './app';
import { loadExpirationConfig } from './config';
import { OrderCancelledListener } from './events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from './events/listeners/order-completed-listener';
import { OrderCreatedListener } from './events/listeners/order-created-listener';
import { ExpirationCompletePublisher } from './events/publishers/expiration-complete-publisher';
import { ExpirationQueue } from './queues/expiration-queue';

const logger = createLogger('expiration');

async function start(): Promise<void> {
  installProcessHandlers(logger);
  const config = loadExpirationConfig();

  const bus = new Bus({
    url: config.NATS_URL,
    clusterId: config.NATS_CLUSTER_ID,
    clientId: makeClientId('expiration', config.NATS_CLIENT_ID),
    logger,
  });
  await bus.connect();

  const publisher = new ExpirationCompletePublisher(bus);
  const expirations = new ExpirationQueue({
    redisUrl: config.REDIS_URL,
    prefix: config.EXPIRATION_QUEUE_PREFIX,
    logger,
    retry: { minDelayMs: config.EXPIRATION_RETRY_MIN_DELAY_MS, maxDelayMs: config.EXPIRATION_RETRY_MAX_DELAY_MS },
    // Resolves once the streaming server stored the event; a rejection makes BullMQ retry the job.
    onExpire: async ({ orderId }) => {
      await publisher.publish({ orderId });
    },
  });
  await expirations.waitUntilReady();
  await expirations.start();

  new OrderCreatedListener(bus, logger, expirations).listen();
  new OrderCancelledListener(bus, logger, expirations).listen();
  new OrderCompletedListener(bus, logger, expirations).listen();

  const app = buildApp(config, logger, { redis: () => expirations.isReady(), bus: () => bus.isConnected });
  const server = app.listen(config.PORT, () => logger.info({ port: config.PORT }, 'expiration listening'));

  handleShutdown({
    logger,
    steps: [
      { name: 'http', close: () => closeHttpServer(server) },
      // The worker finishes the publishes under way before the bus goes.
      { name: 'queue', close: () => expirations.close() },
      { name: 'bus', close: () => bus.close() },
    ],
  });
}

start().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'expiration failed to start');
  process.exit(1);
});
