import path from 'node:path';
import {
  ensureTools,
  startMongo,
  startNatsJetStream,
  startNatsStreaming,
  startRedis,
  startStripeMock,
  type BusServer,
  type ToolName,
} from '../lib/infra';
import { startStripeTestMode } from '../lib/stripe-test-mode';
import { EXTERNAL_SERVER_ENV, externalServer } from '../lib/infra-tool-names';
import type { BusTransport } from '../../../common/src/events/bus';
import { errorMessage } from './text';
import { NEEDS, type InfraHandle, type InfraUrls, type Log, type ServiceName } from './types';

/**
 * The servers under the services, through the test harness (infra/dev/lib/infra.ts) or given:
 * only what the chosen services need, persistent under the data directory unless ephemeral.
 */

export interface StartedInfra {
  mongoUri: string | undefined;
  natsUrl: string;
  natsClusterId: string;
  /** The bus transport the services use (EVENT_BUS). */
  bus: BusTransport;
  redisUrl: string | undefined;
  stripeUrl: string | undefined;
  handles: InfraHandle[];
  stop(): Promise<void>;
}

interface Wanted {
  mongo: boolean;
  nats: boolean;
  redis: boolean;
  stripe: boolean;
}

/** What to start here: what the services need and nobody gave. */
function wantedServers(services: readonly ServiceName[], given: InfraUrls): Wanted {
  const needs = services.map((name) => NEEDS[name]);
  return {
    mongo: needs.some((n) => n.mongo) && given.mongoUri === undefined,
    nats: given.natsUrl === undefined,
    redis: needs.some((n) => n.redis) && given.redisUrl === undefined,
    stripe: needs.some((n) => n.stripe) && given.stripeUrl === undefined,
  };
}

/** Installs the wanted servers' binaries if missing, then starts them together. */
export async function startInfra(args: {
  services: readonly ServiceName[];
  ephemeral: boolean;
  dataDir: string;
  given: InfraUrls;
  log: Log;
  /** NATS Streaming (default) or JetStream. */
  bus?: BusTransport;
}): Promise<StartedInfra> {
  const { ephemeral, dataDir, given, log } = args;
  const bus = args.bus ?? 'stan';
  const wanted = wantedServers(args.services, given);
  const natsTool: ToolName = bus === 'jetstream' ? 'jetstream' : 'nats';
  const tools: ToolName[] = [
    ...(wanted.mongo ? (['mongo'] as const) : []),
    ...(wanted.nats ? [natsTool] : []),
    ...(wanted.redis ? (['redis'] as const) : []),
    ...(wanted.stripe ? (['stripe'] as const) : []),
  ];
  await ensureTools(tools, log, { reportStatus: false });

  const persistent = (name: string): { dataDir: string } | Record<string, never> =>
    ephemeral ? {} : { dataDir: path.join(dataDir, name) };
  // Started together; each is optional (given, or not needed by the chosen services).
  const maybe = <T>(want: boolean, start: () => Promise<T>): Promise<T | undefined> =>
    want ? start() : Promise.resolve(undefined);
  const started = await Promise.allSettled([
    maybe(wanted.mongo, () => startMongo({ log, ...persistent('mongo') })),
    maybe(wanted.nats, (): Promise<BusServer> =>
      bus === 'jetstream'
        ? startNatsJetStream({ log, ...persistent('jetstream') })
        : startNatsStreaming({ log, store: 'file', clusterId: 'ticketing', ...persistent('nats') }),
    ),
    maybe(wanted.redis, () => startRedis({ log, ...persistent('redis') })),
    maybe(wanted.stripe, () => startStripeWithTestMode(log)),
  ]);
  const servers = started.flatMap((r) => (r.status === 'fulfilled' && r.value !== undefined ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const [mongo, nats, redis, stripe] = started;
  if (
    mongo.status === 'rejected' ||
    nats.status === 'rejected' ||
    redis.status === 'rejected' ||
    stripe.status === 'rejected'
  ) {
    await stop();
    const failures = started.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    throw new Error(`Could not start the infrastructure:\n${failures.join('\n')}`);
  }

  const mongoUri = given.mongoUri ?? mongo.value?.uri;
  const natsUrl = given.natsUrl ?? nats.value?.url ?? '';
  const natsClusterId = given.natsClusterId ?? nats.value?.clusterId ?? 'ticketing';
  const redisUrl = given.redisUrl ?? redis.value?.url;
  const stripeUrl = given.stripeUrl ?? stripe.value?.url;
  const urls = { mongoUri, natsUrl, redisUrl, stripeUrl };
  return { ...urls, natsClusterId, bus, handles: infraHandles(urls, given, ephemeral, dataDir, bus), stop };
}

/**
 * stripe-mock with Stripe's test mode in front (infra/dev/lib/stripe-test-mode.ts): stripe-mock
 * alone keeps no state, so a confirmed PaymentIntent would never succeed and no order could be paid.
 */
async function startStripeWithTestMode(log: Log): Promise<{ url: string; stop(): Promise<void> }> {
  const mock = await startStripeMock({ log });
  try {
    const front = await startStripeTestMode(mock.url);
    return {
      url: front.url,
      stop: async () => {
        await front.stop();
        await mock.stop();
      },
    };
  } catch (err) {
    await mock.stop();
    throw err;
  }
}

/** The rows of `npm start`'s table: where each server is and where its data lives. */
function infraHandles(
  urls: { mongoUri: string | undefined; natsUrl: string; redisUrl: string | undefined; stripeUrl: string | undefined },
  given: InfraUrls,
  ephemeral: boolean,
  dataDir: string,
  bus: BusTransport,
): InfraHandle[] {
  const note = (tool: ToolName, name: string): string =>
    externalServer(tool) !== undefined
      ? `external (${EXTERNAL_SERVER_ENV[tool]})`
      : ephemeral
        ? 'temporary'
        : path.relative(process.cwd(), path.join(dataDir, name)) || '.';
  const handles: InfraHandle[] = [];
  if (urls.mongoUri !== undefined) {
    handles.push({ name: 'mongo', url: urls.mongoUri, note: given.mongoUri ? 'given' : note('mongo', 'mongo') });
  }
  const natsNote = bus === 'jetstream' ? note('jetstream', 'jetstream') : note('nats', 'nats');
  handles.push({ name: 'nats', url: urls.natsUrl, note: `${bus}, ${given.natsUrl ? 'given' : natsNote}` });
  if (urls.redisUrl !== undefined) {
    handles.push({ name: 'redis', url: urls.redisUrl, note: given.redisUrl ? 'given' : note('redis', 'redis') });
  }
  if (urls.stripeUrl !== undefined) {
    handles.push({ name: 'stripe', url: urls.stripeUrl, note: given.stripeUrl ? 'given' : 'test mode' });
  }
  return handles;
}
