import {
  busConfigSpec,
  httpConfigSpec,
  int,
  jwtConfigSpec,
  loadConfig,
  mongoConfigSpec,
  type ConfigOf,
} from '@ticketing/common';

export const authConfigSpec = {
  ...httpConfigSpec,
  ...mongoConfigSpec,
  ...jwtConfigSpec,
  ...busConfigSpec,
  /** Signup and signin attempts per client IP per minute (each, per instance). */
  AUTH_RATE_LIMIT_PER_MINUTE: int({ default: 30, min: 1 }),
};

export type AuthConfig = ConfigOf<typeof authConfigSpec>;

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig(authConfigSpec, env);
}
