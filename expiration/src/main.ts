import { connectServiceBus, createLogger, listenHttp, listenMetrics, runService } from '@ticketing/common';
import { buildApp } from './app';
import { loadExpirationConfig } from './config';
import { OrderCancelledListener } from './events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from './events/listeners/order-completed-listener';
import { OrderCreatedListener } from './events/listeners/order-created-listener';
import { ExpirationCompletePublisher } from './events/publishers/expiration-complete-publisher';
import { ExpirationQueue } from './queues/expiration-queue';

const logger = createLogger('expiration');

runService('expiration', logger, async () => {
  const config = loadExpirationConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'expiration', logger);
  const bus = await connectServiceBus('expiration', config, logger);

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
  return [
    await listenHttp(app, config.PORT, 'expiration', logger),
    // The worker finishes the publishes under way before the bus goes.
    { name: 'queue', close: () => expirations.close() },
    { name: 'bus', close: () => bus.close() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
