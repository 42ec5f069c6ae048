import {
  busConfigSpec,
  httpConfigSpec,
  int,
  jwtConfigSpec,
  loadConfig,
  mongoConfigSpec,
  type ConfigOf,
} from '@ticketing/common';

export const DEFAULT_MAX_ACTIVE_ORDERS_PER_USER = 5;

export const ordersConfigSpec = {
  ...httpConfigSpec,
  ...mongoConfigSpec,
  ...jwtConfigSpec,
  ...busConfigSpec,
  /** How long a new order holds its ticket before the expiration service cancels it (15 minutes). */
  EXPIRATION_WINDOW_SECONDS: int({ default: 15 * 60, min: 1 }),
  /** Unpaid (created or awaiting payment) orders one user may hold at once. */
  MAX_ACTIVE_ORDERS_PER_USER: int({ default: DEFAULT_MAX_ACTIVE_ORDERS_PER_USER, min: 1, max: 100 }),
};

export type OrdersConfig = ConfigOf<typeof ordersConfigSpec>;

export function loadOrdersConfig(env: NodeJS.ProcessEnv = process.env): OrdersConfig {
  return loadConfig(ordersConfigSpec, env);
}
