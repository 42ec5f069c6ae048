import {
  busConfigSpec,
  httpConfigSpec,
  int,
  loadConfig,
  str,
  url,
  type ConfigOf,
  type VarSpec,
} from '@ticketing/common';

/** BullMQ joins the prefix and the queue name with ':'; a trailing ':' (testRedisPrefix()) is dropped. */
function queuePrefix(): VarSpec<string> {
  const base = str({ default: 'bull' });
  return {
    parse(raw, name) {
      const result = base.parse(raw, name);
      if ('error' in result) return result;
      const value = result.value.replace(/:+$/, '');
      if (value === '' || /\s/.test(value)) return { error: `${name} must be a non-empty prefix without spaces` };
      return { value };
    },
  };
}

export const expirationConfigSpec = {
  ...httpConfigSpec,
  ...busConfigSpec,
  REDIS_URL: url({ protocols: ['redis', 'rediss'] }),
  /** Key prefix of the BullMQ queue in Redis (tests give each file its own). */
  EXPIRATION_QUEUE_PREFIX: queuePrefix(),
  /** Back-off between attempts to publish expiration:complete while the bus is away: doubles from min to max. */
  EXPIRATION_RETRY_MIN_DELAY_MS: int({ default: 1_000, min: 1 }),
  EXPIRATION_RETRY_MAX_DELAY_MS: int({ default: 60_000, min: 1 }),
};

export type ExpirationConfig = ConfigOf<typeof expirationConfigSpec>;

export function loadExpirationConfig(env: NodeJS.ProcessEnv = process.env): ExpirationConfig {
  return loadConfig(expirationConfigSpec, env);
}
