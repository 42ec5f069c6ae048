/**
 * Typed environment parsing. A service describes every variable it needs once; `loadConfig` returns a
 * typed object or throws a ConfigError that lists every missing or malformed variable at once, so an
 * operator fixes a deployment in one round instead of one variable per crash.
 */
export interface VarSpec<T> {
  parse(raw: string | undefined, name: string): { value: T } | { error: string };
}

type Spec = Record<string, VarSpec<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends VarSpec<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

interface Common<T> {
  default?: T;
}

function missing(name: string): { error: string } {
  return { error: `${name} is required but not set` };
}

export function str(opts: Common<string> & { minLength?: number; oneOf?: readonly string[] } = {}): VarSpec<string> {
  return {
    parse(raw, name) {
      if (raw === undefined || raw === '') return opts.default === undefined ? missing(name) : { value: opts.default };
      if (opts.minLength !== undefined && raw.length < opts.minLength) {
        return { error: `${name} must be at least ${opts.minLength} characters long (got ${raw.length})` };
      }
      if (opts.oneOf !== undefined && !opts.oneOf.includes(raw)) {
        return { error: `${name} must be one of ${opts.oneOf.join(', ')} (got "${raw}")` };
      }
      return { value: raw };
    },
  };
}

/** One of a fixed set of strings, typed as that union. */
export function oneOf<T extends string>(values: readonly T[], opts: Common<T> = {}): VarSpec<T> {
  return {
    parse(raw, name) {
      if (raw === undefined || raw === '') return opts.default === undefined ? missing(name) : { value: opts.default };
      if (!(values as readonly string[]).includes(raw)) {
        return { error: `${name} must be one of ${values.join(', ')} (got "${raw}")` };
      }
      return { value: raw as T };
    },
  };
}

export function optionalStr(): VarSpec<string | undefined> {
  return { parse: (raw) => ({ value: raw === '' ? undefined : raw }) };
}

export function int(opts: Common<number> & { min?: number; max?: number } = {}): VarSpec<number> {
  return {
    parse(raw, name) {
      if (raw === undefined || raw === '') return opts.default === undefined ? missing(name) : { value: opts.default };
      if (!/^-?\d+$/.test(raw.trim())) return { error: `${name} must be an integer (got "${raw}")` };
      const value = Number(raw);
      if (opts.min !== undefined && value < opts.min) return { error: `${name} must be >= ${opts.min} (got ${value})` };
      if (opts.max !== undefined && value > opts.max) return { error: `${name} must be <= ${opts.max} (got ${value})` };
      return { value };
    },
  };
}

export function url(opts: Common<string> & { protocols: readonly string[] }): VarSpec<string> {
  return {
    parse(raw, name) {
      if (raw === undefined || raw === '') return opts.default === undefined ? missing(name) : { value: opts.default };
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        return { error: `${name} must be a URL (got "${raw}")` };
      }
      const protocol = parsed.protocol.replace(/:$/, '');
      if (!opts.protocols.includes(protocol)) {
        return { error: `${name} must use ${opts.protocols.map((p) => `${p}://`).join(' or ')} (got "${raw}")` };
      }
      return { value: raw };
    },
  };
}

export function loadConfig<S extends Spec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, varSpec] of Object.entries(spec)) {
    const result = varSpec.parse(env[name], name);
    if ('error' in result) problems.push(result.error);
    else out[name] = result.value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** Variables every service shares; a service spreads these into its own spec. */
export const busConfigSpec = {
  NATS_URL: url({ protocols: ['nats'] }),
  NATS_CLUSTER_ID: str({ default: 'ticketing' }),
  // Optional: defaults to <service>-<host>-<random>; in Kubernetes it is the pod name.
  NATS_CLIENT_ID: optionalStr(),
  // The transport: NATS Streaming (the default) or NATS JetStream (docs/jetstream.md).
  EVENT_BUS: oneOf(['stan', 'jetstream'] as const, { default: 'stan' }),
  // JetStream: deliveries of a message before it goes to the dead-letter stream.
  JETSTREAM_MAX_DELIVER: int({ default: 10, min: 1, max: 1000 }),
  // JetStream: replicas of each stream (3 on the three-node cluster of infra/k8s-jetstream).
  JETSTREAM_REPLICAS: int({ default: 1, min: 1, max: 5 }),
} as const;

/** The ingress (or the dev gateway) in front of every service: one proxy hop. */
export const DEFAULT_TRUST_PROXY_HOPS = 1;

export const httpConfigSpec = {
  PORT: int({ default: 3000, min: 0, max: 65535 }),
  // Prometheus's /metrics, on a port of its own that the Ingress does not route (see listenMetrics).
  METRICS_PORT: int({ default: 9464, min: 0, max: 65535 }),
  NODE_ENV: str({ default: 'development', oneOf: ['development', 'production', 'test'] }),
  // How many proxies in front of the service append to X-Forwarded-For (see createApp).
  TRUST_PROXY_HOPS: int({ default: DEFAULT_TRUST_PROXY_HOPS, min: 0, max: 10 }),
} as const;

export const jwtConfigSpec = {
  // 32 characters: an HMAC-SHA256 key shorter than this is guessable offline from one cookie.
  JWT_KEY: str({ minLength: 32 }),
  /**
   * Lifetime of a session token: auth signs with it, and every service replays signed-out sessions
   * (session:revoked) this far back when it starts. The same value everywhere, like JWT_KEY.
   */
  JWT_EXPIRES_IN_SECONDS: int({ default: 24 * 3600, min: 60 }),
} as const;

export const mongoConfigSpec = {
  MONGO_URI: url({ protocols: ['mongodb', 'mongodb+srv'] }),
} as const;
