import { createApp, type Logger, type OutboxRelay, type ReadinessChecks, type RevocationList } from '@ticketing/common';
import type { Express } from 'express';
import { DEFAULT_MAX_ACTIVE_ORDERS_PER_USER, type OrdersConfig } from './config';
import { listOrdersRouter } from './routes/list-orders';
import { newOrderRouter } from './routes/new-order';
import { showOrderRouter } from './routes/show-order';
import { updateOrderRouter } from './routes/update-order';

export function buildApp(
  config: Pick<OrdersConfig, 'JWT_KEY' | 'NODE_ENV' | 'EXPIRATION_WINDOW_SECONDS'> &
    Partial<Pick<OrdersConfig, 'TRUST_PROXY_HOPS' | 'MAX_ACTIVE_ORDERS_PER_USER'>>,
  logger: Logger,
  readiness: ReadinessChecks,
  relay: OutboxRelay,
  /** Signed-out sessions, refused (main passes its SessionRevocations). */
  revocations?: RevocationList,
): Express {
  return createApp({
    logger,
    jwtKey: config.JWT_KEY,
    ...(revocations === undefined ? {} : { revocations }),
    secureCookies: config.NODE_ENV === 'production',
    trustProxyHops: config.TRUST_PROXY_HOPS,
    readiness,
    routers: [
      newOrderRouter(relay, {
        expirationWindowSeconds: config.EXPIRATION_WINDOW_SECONDS,
        maxActiveOrders: config.MAX_ACTIVE_ORDERS_PER_USER ?? DEFAULT_MAX_ACTIVE_ORDERS_PER_USER,
      }),
      listOrdersRouter,
      showOrderRouter,
      updateOrderRouter(relay),
    ],
  });
}
