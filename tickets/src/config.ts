import {
  busConfigSpec,
  httpConfigSpec,
  jwtConfigSpec,
  loadConfig,
  mongoConfigSpec,
  type ConfigOf,
} from '@ticketing/common';

export const ticketsConfigSpec = {
  ...httpConfigSpec,
  ...mongoConfigSpec,
  ...jwtConfigSpec,
  ...busConfigSpec,
};

export type TicketsConfig = ConfigOf<typeof ticketsConfigSpec>;

export function loadTicketsConfig(env: NodeJS.ProcessEnv = process.env): TicketsConfig {
  return loadConfig(ticketsConfigSpec, env);
}
