import mongoose from 'mongoose';
import { createBus, makeClientId, type Bus, type CreateBusOptions } from '../events';
import { silentLogger } from './probes';
import { natsTestConfig, testChannelPrefix, testMongoUri } from './test-env';

/** Connects mongoose to this test file's own database. */
export async function connectTestMongo(): Promise<void> {
  await mongoose.connect(testMongoUri(), { serverSelectionTimeoutMS: 5_000 });
}

/** Drops this test file's database and disconnects. */
export async function closeTestMongo(): Promise<void> {
  if (mongoose.connection.readyState === mongoose.ConnectionStates.connected) {
    await mongoose.connection.dropDatabase();
  }
  await mongoose.disconnect();
}

/**
 * A real bus connection for a test file: the shared test server of the file's transport, this file's
 * channel prefix (so no other file sees its events), and fast pings so a restarted server is noticed
 * within ~1.5 s.
 */
export async function connectTestBus(service: string, overrides: Partial<CreateBusOptions> = {}): Promise<Bus> {
  const { transport, url, clusterId } = natsTestConfig();
  const bus = createBus({
    transport,
    url,
    clusterId,
    clientId: makeClientId(`test-${service}`),
    logger: silentLogger,
    channelPrefix: testChannelPrefix(),
    pingIntervalMs: 500,
    maxPingOut: 3,
    retryDelayMs: { min: 50, max: 500 },
    ...overrides,
  });
  await bus.connect();
  return bus;
}
