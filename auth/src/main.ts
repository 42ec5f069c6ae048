import {
  ConfigError,
  closeHttpServer,
  connectMongo,
  createLogger,
  handleShutdown,
  installProcessHandlers,
  isMongoConnected,
} from '@ticketing/common';
import mongoose from 'mongoose';
import { buildApp } from './app';
import { loadAuthConfig } from './config';
import { User } from './models/user';

const logger = createLogger('auth');

async function start(): Promise<void> {
  installProcessHandlers(logger);
  const config = loadAuthConfig();
  await connectMongo(config.MONGO_URI, { logger });
  await User.init(); // the unique email index must exist before the first signup

  const app = buildApp(config, logger, { mongo: () => isMongoConnected() });
  const server = app.listen(config.PORT, () => logger.info({ port: config.PORT }, 'auth listening'));

  handleShutdown({
    logger,
    steps: [
      { name: 'http', close: () => closeHttpServer(server) },
      { name: 'mongo', close: () => mongoose.disconnect() },
    ],
  });
}

start().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'auth failed to start');
  process.exit(1);
});
