import {
  ALL_TOOLS,
  ensureTools,
  startMongo,
  startNatsJetStream,
  startNatsStreaming,
  startRedis,
  startStripeMock,
  type MongoServer,
  type NatsJetStreamServer,
  type NatsStreamingServer,
  type RedisServer,
  type StripeMockServer,
} from './infra';
import { startStripeTestMode, type StripeTestMode } from './stripe-test-mode';

/**
 * Starts the servers every test file shares, once per jest run, and tells the workers where they are
 * through process.env (workers are forked after this and inherit it). The handles stay on globalThis,
 * which jest shares between globalSetup and globalTeardown.
 */

export interface TestInfra {
  mongo: MongoServer;
  nats: NatsStreamingServer;
  jetstream: NatsJetStreamServer;
  redis: RedisServer;
  stripe: StripeMockServer;
  /** Stripe's test mode in front of stripe-mock (stripe-test-mode.ts): what TEST_STRIPE_URL names. */
  stripeTestMode: StripeTestMode;
}

export const INFRA_GLOBAL = '__ticketingTestInfra';

export default async function globalSetup(): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`[test infra] ${line}\n`);
  };
  // Installs (or reports) everything first, so a missing tool fails with one clear message before any
  // server starts.
  await ensureTools(ALL_TOOLS, log);

  const started = Date.now();
  const results = await Promise.allSettled([
    startMongo({ log }),
    startNatsStreaming({ store: 'memory', clusterId: 'ticketing', log }),
    startRedis({ log }),
    startStripeMock({ log }),
    startNatsJetStream({ log }),
  ] as const);
  const [mongo, nats, redis, stripe, jetstream] = results;
  if (
    mongo.status === 'rejected' ||
    nats.status === 'rejected' ||
    jetstream.status === 'rejected' ||
    redis.status === 'rejected' ||
    stripe.status === 'rejected'
  ) {
    // Stop what did start, or those servers would keep this process (and their ports) alive.
    await Promise.all(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])));
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    throw new Error(`Could not start the test servers:\n${reasons.join('\n')}`);
  }

  const stripeTestMode = await startStripeTestMode(stripe.value.url);
  const infra: TestInfra = {
    mongo: mongo.value,
    nats: nats.value,
    jetstream: jetstream.value,
    redis: redis.value,
    stripe: stripe.value,
    stripeTestMode,
  };
  (globalThis as Record<string, unknown>)[INFRA_GLOBAL] = infra;

  process.env['TEST_MONGO_URI'] = infra.mongo.uri;
  process.env['TEST_NATS_URL'] = infra.nats.url;
  process.env['TEST_NATS_CLUSTER_ID'] = infra.nats.clusterId;
  process.env['TEST_NATS_MONITOR_URL'] = infra.nats.monitorUrl;
  process.env['TEST_JETSTREAM_URL'] = infra.jetstream.url;
  process.env['TEST_JETSTREAM_MONITOR_URL'] = infra.jetstream.monitorUrl;
  process.env['TEST_REDIS_URL'] = infra.redis.url;
  process.env['TEST_STRIPE_URL'] = stripeTestMode.url;
  process.env['TEST_STRIPE_MOCK_URL'] = infra.stripe.url;
  log(`servers up in ${Date.now() - started} ms`);
}
