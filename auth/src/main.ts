import {
  OutboxRelay,
  connectMongo,
  connectServiceBus,
  createLogger,
  isMongoConnected,
  listenHttp,
  listenMetrics,
  runService,
  startSessionRevocations,
} from '@ticketing/common';
import mongoose from 'mongoose';
import { buildApp } from './app';
import { loadAuthConfig } from './config';
import { Revocation } from './models/revocation';
import { User } from './models/user';

const logger = createLogger('auth');

runService('auth', logger, async () => {
  const config = loadAuthConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'auth', logger);
  await connectMongo(config.MONGO_URI, { logger });
  await Promise.all([User.init(), Revocation.init()]); // the unique email index must exist before the first signup
  const bus = await connectServiceBus('auth', config, logger);

  // Publishes session:revoked of signouts stored while the bus was away.
  const relay = new OutboxRelay({ bus, models: [Revocation], logger });
  relay.start();
  // Before listening: no request is answered before every earlier signout is known.
  const revocations = await startSessionRevocations({ bus, logger, lookbackSeconds: config.JWT_EXPIRES_IN_SECONDS });

  const app = buildApp(
    config,
    logger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    { relay, revocations },
  );
  return [
    await listenHttp(app, config.PORT, 'auth', logger),
    { name: 'outbox', close: () => relay.stop() },
    { name: 'revocations', close: () => revocations.stop() },
    { name: 'bus', close: () => bus.close() },
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
