import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, type Stack, repoRoot } from '@ticketing/devinfra';
import { withDatabase } from '../../common/src/testing/test-env';
import { probesEnv } from './probes';

/**
 * What the bench runs against: a stack of its own (the default: `startStack`, ephemeral, every
 * service a separate process), or a running system at BASE_URL. Against BASE_URL the bench also needs
 * MONGO_URI (the server that system uses: the baselines run on it and propagation is read from the
 * orders database) and the JWT key (JWT_KEY, or .data/jwt-key as `npm start` keeps it); NATS_URL
 * enables the bus-level figures. Database names default to `npm start`'s (tickets, orders).
 */

export interface Target {
  mode: 'stack' | 'base-url';
  /** Where each service answers: its own port with a stack of ours (no gateway hop), else BASE_URL. */
  urls: { tickets: string; orders: string };
  mongoUri: string;
  db: { tickets: string; orders: string; baseline: string };
  nats: { url: string; clusterId: string } | undefined;
  jwtKey: string;
  /** The services' processes by name (stack mode only; CPU accounting). */
  pids: Record<string, number | undefined>;
  /** Environment of the stack's orders process, to start a second instance (stack mode only). */
  ordersEnv: Record<string, string> | undefined;
  /** Environment of the stack's tickets process, to start a second instance (stack mode only). */
  ticketsEnv: Record<string, string> | undefined;
  notes: string[];
  startupMs: number;
  stop(): Promise<void>;
}

const DB_PREFIX = 'bench_';

export async function openTarget(log: (line: string) => void): Promise<Target> {
  const baseUrl = process.env['BASE_URL'];
  return baseUrl === undefined || baseUrl === '' ? ownStack(log) : existing(baseUrl.replace(/\/+$/, ''));
}

async function ownStack(log: (line: string) => void): Promise<Target> {
  const stack: Stack = await startStack({
    port: 0,
    ephemeral: true,
    databasePrefix: DB_PREFIX,
    // Bench-only probes (command counts, CPU profiles) when asked for: see lib/probes.ts.
    env: { LOG_LEVEL: 'warn', ...probesEnv() },
    echo: 'warn',
    log,
    readyTimeoutMs: 180_000,
    // The bench measures the API: no web client to build and run.
    client: false,
  });
  const service = (name: string): string => {
    const handle = stack.services.find((s) => s.name === name);
    if (handle === undefined || handle.url === '') throw new Error(`the stack has no ${name} service`);
    return handle.url;
  };
  const infra = (name: string): string => {
    const handle = stack.infra.find((i) => i.name === name);
    if (handle === undefined) throw new Error(`the stack has no ${name} server`);
    return handle.url;
  };
  const mongoUri = infra('mongo');
  const nats = { url: infra('nats'), clusterId: 'ticketing' };
  return {
    mode: 'stack',
    urls: { tickets: service('tickets'), orders: service('orders') },
    pids: Object.fromEntries(stack.services.map((s) => [s.name, s.pid])),
    mongoUri,
    db: { tickets: `${DB_PREFIX}tickets`, orders: `${DB_PREFIX}orders`, baseline: `${DB_PREFIX}baseline` },
    nats,
    jwtKey: stack.jwtKey,
    ordersEnv: {
      MONGO_URI: withDatabase(mongoUri, `${DB_PREFIX}orders`),
      NATS_URL: nats.url,
      NATS_CLUSTER_ID: nats.clusterId,
      JWT_KEY: stack.jwtKey,
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
    },
    ticketsEnv: {
      MONGO_URI: withDatabase(mongoUri, `${DB_PREFIX}tickets`),
      NATS_URL: nats.url,
      NATS_CLUSTER_ID: nats.clusterId,
      JWT_KEY: stack.jwtKey,
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
    },
    notes: [
      `own stack (ephemeral; build ${(stack.buildMs / 1000).toFixed(1)} s, ready in ${(stack.startupMs / 1000).toFixed(1)} s); ` +
        'requests go straight to each service, not through the gateway',
    ],
    startupMs: stack.startupMs,
    stop: () => stack.stop(),
  };
}

function existing(baseUrl: string): Target {
  const mongoUri = process.env['MONGO_URI'];
  if (mongoUri === undefined || mongoUri === '') {
    throw new Error('BASE_URL needs MONGO_URI too: the Mongo server the system uses (the baselines run on it)');
  }
  const keyFile = path.join(repoRoot(), '.data', 'jwt-key');
  const jwtKey = process.env['JWT_KEY'] ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  if (jwtKey === undefined || jwtKey === '') {
    throw new Error('BASE_URL needs JWT_KEY (or .data/jwt-key from npm start) to sign the buyers in');
  }
  const natsUrl = process.env['NATS_URL'];
  return {
    mode: 'base-url',
    urls: { tickets: baseUrl, orders: baseUrl },
    pids: {},
    mongoUri,
    db: {
      tickets: process.env['TICKETS_DB'] ?? 'tickets',
      orders: process.env['ORDERS_DB'] ?? 'orders',
      baseline: `${DB_PREFIX}baseline`,
    },
    nats:
      natsUrl === undefined || natsUrl === ''
        ? undefined
        : { url: natsUrl, clusterId: process.env['NATS_CLUSTER_ID'] ?? 'ticketing' },
    jwtKey,
    ordersEnv: undefined,
    ticketsEnv: undefined,
    notes: [`running system at ${baseUrl}: figures include its gateway hop, the baselines do not`],
    startupMs: 0,
    stop: async () => {},
  };
}
