import { createApp, type Logger, type ReadinessChecks, type RevocationList } from '@ticketing/common';
import type { Express } from 'express';
import type { PaymentsConfig } from './config';
import { newPaymentRouter } from './routes/new-payment';
import type { PaymentDeps } from './services/pay-order';

export function buildApp(
  config: Pick<PaymentsConfig, 'JWT_KEY' | 'NODE_ENV'> & Partial<Pick<PaymentsConfig, 'TRUST_PROXY_HOPS'>>,
  logger: Logger,
  readiness: ReadinessChecks,
  deps: Omit<PaymentDeps, 'logger'>,
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
    routers: [newPaymentRouter({ ...deps, logger })],
  });
}
