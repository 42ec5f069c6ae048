/**
 * The one place that runs infrastructure servers, for the tests (jest globalSetup), `npm start` and CI.
 * Each starter binds 127.0.0.1 on a port the OS picks (unless one is given), resolves only once the
 * server answers its own protocol, and kills the child on failure, quoting its output in the error.
 * When the matching variable (MONGO_URI, NATS_URL, REDIS_URL, STRIPE_MOCK_URL) is set, the starter
 * returns that server instead and starts nothing.
 */

export { ALL_TOOLS, EXTERNAL_SERVER_ENV, type Log, type ToolName, type ToolStatus } from './infra-tool-names';
export { ensureTools } from './infra-tools';
export { repoRoot, toolsBinDir } from './infra-paths';
export { freePort } from './infra-process';
export { aptInstall, canAptInstall, type AptInstallOptions, type AptResult } from './infra-apt';

export { startMongo, type MongoServer, type StartMongoOptions } from './infra-mongo';
export {
  busServerEnv,
  startBusServer,
  startNatsJetStream,
  startNatsStreaming,
  type BusServer,
  type NatsJetStreamServer,
  type NatsStreamingServer,
  type StartBusServerOptions,
  type StartNatsJetStreamOptions,
  type StartNatsStreamingOptions,
} from './infra-nats';
export { startRedis, type RedisServer, type StartRedisOptions } from './infra-redis';
export { startStripeMock, type StartStripeMockOptions, type StripeMockServer } from './infra-stripe-mock';
export type { CommonStartOptions } from './infra-start';
