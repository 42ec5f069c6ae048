import type { ClientHandle } from './client';

/** The dev stack's public shapes: what startStack() takes and what it hands back. */

export const SERVICE_NAMES = ['auth', 'tickets', 'orders', 'expiration', 'payments'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceNeeds {
  mongo: boolean;
  redis: boolean;
  stripe: boolean;
}

// What each service is given; everything else in the environment passes through unchanged.
export const NEEDS: Record<ServiceName, ServiceNeeds> = {
  auth: { mongo: true, redis: false, stripe: false },
  tickets: { mongo: true, redis: false, stripe: false },
  orders: { mongo: true, redis: false, stripe: false },
  expiration: { mongo: false, redis: true, stripe: false },
  payments: { mongo: true, redis: false, stripe: true },
};

export type EchoLevel = 'warn' | 'all' | 'none';
export type Log = (line: string) => void;

export interface InfraUrls {
  /** Base Mongo URI; each service gets its own database on it. */
  mongoUri?: string;
  natsUrl?: string;
  natsClusterId?: string;
  redisUrl?: string;
  stripeUrl?: string;
}

export interface StackOptions {
  /** Gateway port; 3000 by default, 0 for a free one. */
  port?: number;
  /** Gateway bind address; 127.0.0.1 by default. */
  host?: string;
  /** Keep nothing: temporary data directories, a random JWT key, logs deleted on stop. */
  ephemeral?: boolean;
  /** Extra environment for the services (on top of this process's environment). */
  env?: Record<string, string | undefined>;
  /** Progress lines and the services' warnings; silent when absent. */
  log?: Log;
  /** Service log lines echoed to `log`: 'warn' (warnings and errors, the default), 'all' or 'none'. */
  echo?: EchoLevel;
  /** Build stale or missing dist/ folders first (true by default). */
  build?: boolean;
  /** Which services to run; all five by default. */
  services?: readonly ServiceName[];
  /** Leave out, with a warning, services that have no src/main.ts yet instead of failing. */
  skipMissing?: boolean;
  /** The bus: 'stan' (NATS Streaming) or 'jetstream'; $EVENT_BUS, else 'stan', by default. */
  bus?: 'stan' | 'jetstream';
  /** Use these servers instead of starting them (the environment's MONGO_URI etc. are honoured too). */
  infra?: InfraUrls;
  /** Prepended to each service's database name ("t_abc_" → t_abc_auth). */
  databasePrefix?: string;
  /** Where persistent data lives; <repo>/.data by default. Ignored when ephemeral. */
  dataDir?: string;
  /** Where the services' logs go (<name>.log, appended); <dataDir>/logs by default. */
  logDir?: string;
  /** How long the services may take to become ready once spawned; 60 s by default. */
  readyTimeoutMs?: number;
  /**
   * Build (when stale) and run the web client (client/) behind the gateway's catch-all route; true by
   * default when client/ exists.
   */
  client?: boolean;
}

export type ServiceState = 'starting' | 'ready' | 'exited' | 'stopped' | 'skipped';

export interface ServiceHandle {
  name: ServiceName;
  /** http://127.0.0.1:PORT ('' when skipped). */
  url: string;
  port: number;
  /** http://127.0.0.1:METRICS_PORT/metrics ('' when skipped), never behind the gateway. */
  metricsUrl: string;
  pid: number | undefined;
  state: ServiceState;
  /** Milliseconds from spawn to a 200 on /readyz. */
  readyInMs: number | undefined;
  logFile: string;
  /** Why it was skipped, or how it exited. */
  note: string;
  /** The last lines the service wrote. */
  tail(): string;
}

export interface InfraHandle {
  name: 'mongo' | 'nats' | 'redis' | 'stripe';
  url: string;
  /** Where its data lives, "external", or "temporary". */
  note: string;
}

export interface Stack {
  /** The gateway: http://127.0.0.1:PORT. */
  baseUrl: string;
  services: ServiceHandle[];
  infra: InfraHandle[];
  /** The JWT key the services share (to mint session cookies in tests). */
  jwtKey: string;
  logDir: string;
  /** From startStack() being called to everything answering. */
  startupMs: number;
  /** How long the build step took (0 when nothing was stale), the web client's included. */
  buildMs: number;
  /** How long `next build` took (0 when up to date or the client is not run). */
  clientBuildMs: number;
  /** The web client (`next start`), when it runs; the gateway serves it at `/`. */
  client: ClientHandle | undefined;
  /** Tools check and infrastructure start. */
  infraMs: number;
  /** From spawning the services to the last /readyz answering 200. */
  servicesMs: number;
  /** Stops the gateway, then the services, then the infrastructure. Safe to call twice. */
  stop(): Promise<void>;
}
