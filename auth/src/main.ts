import { connectMongo, createLogger, isMongoConnected, listenHttp, runService } from '@ticketing/common';
import mongoose from 'mongoose';
import { buildApp } from './app';
import { loadAuthConfig } from './config';
import { User } from './models/user';

const logger = createLogger('auth');

runService('auth', logger, async () => {
  const config = loadAuthConfig();
  await connectMongo(config.MONGO_URI, { logger });
  await User.init(); // the unique email index must exist before the first signup

  const app = buildApp(config, logger, { mongo: () => isMongoConnected() });
  return [listenHttp(app, config.PORT, 'auth', logger), { name: 'mongo', close: () => mongoose.disconnect() }];
});
