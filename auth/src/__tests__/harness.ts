import { OutboxRelay, SessionRevocations, createBus, makeClientId, type Bus } from '@ticketing/common';
import { TEST_JWT_KEY, natsTestConfig, silentLogger, testChannelPrefix } from '@ticketing/common/testing';
import type { Express } from 'express';
import { buildApp } from '../app';
import { loadAuthConfig } from '../config';
import { Revocation } from '../models/revocation';

export const PASSWORD = 'correct horse battery';

let shared: { bus: Bus; relay: OutboxRelay; revocations: SessionRevocations } | undefined;

/**
 * The sessions side every auth app needs: a real bus on this file's channels (it connects in the
 * background; the relay publishes once it is up) and the relay that stores signouts with their
 * session:revoked. Shared by the apps of a file; closeTestApps() closes it.
 */
function sessions(): { bus: Bus; relay: OutboxRelay; revocations: SessionRevocations } {
  if (shared !== undefined) return shared;
  const { transport, url, clusterId } = natsTestConfig();
  const bus = createBus({
    transport,
    url,
    clusterId,
    clientId: makeClientId('test-auth'),
    logger: silentLogger,
    channelPrefix: testChannelPrefix(),
    retryDelayMs: { min: 50, max: 500 },
  });
  void bus.connect().catch(() => undefined);
  const relay = new OutboxRelay({ bus, models: [Revocation], logger: silentLogger });
  const revocations = new SessionRevocations({ bus, logger: silentLogger, lookbackSeconds: 3600 });
  shared = { bus, relay, revocations };
  return shared;
}

export function testApp(overrides: Record<string, string> = {}): Express {
  const config = loadAuthConfig({
    MONGO_URI: 'mongodb://unused.invalid/auth',
    JWT_KEY: TEST_JWT_KEY,
    NODE_ENV: 'test',
    NATS_URL: natsTestConfig().url,
    // Every test here signs up from 127.0.0.1; the rate-limit tests set their own small limit.
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    ...overrides,
  });
  const { relay, revocations } = sessions();
  return buildApp(config, silentLogger, { mongo: () => true }, { relay, revocations });
}

/** Stops the relay and closes the bus of the apps made by testApp(). */
export async function closeTestApps(): Promise<void> {
  if (shared === undefined) return;
  const { relay, bus } = shared;
  shared = undefined;
  await relay.stop();
  await bus.close();
}

let counter = 0;
/** A fresh email per call, so tests never depend on each other's users. */
export function uniqueEmail(): string {
  counter += 1;
  return `user${counter}-${process.pid}-${Date.now()}@example.com`;
}
