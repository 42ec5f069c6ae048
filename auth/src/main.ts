import { connectMongo, createLogger, isMongoConnected, listenHttp, listenMetrics, runService } from '@ticketing/common';
import mongoose from 'mongoose';
import { buildApp } from './app';
import { loadAuthConfig } from './config';
import { User } from './models/user';

const logger = createLogger('auth');

runService('auth', logger, async () => {
  const config = loadAuthConfig();
  // First, so Prometheus sees the process (and its start-up) even while it waits for its servers.
  const metrics = await listenMetrics(config.METRICS_PORT, 'auth', logger);
  await connectMongo(config.MONGO_URI, { logger });
  await User.init(); // the unique email index must exist before the first signup

  const app = buildApp(config, logger, { mongo: () => isMongoConnected() });
  return [
    listenHttp(app, config.PORT, 'auth', logger),
    { name: 'mongo', close: () => mongoose.disconnect() },
    // Last: a scrape during the drain still answers.
    metrics.step,
  ];
});
