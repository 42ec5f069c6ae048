import { createApp, type Logger, type ReadinessChecks } from '@ticketing/common';
import type { Express } from 'express';
import type { ExpirationConfig } from './config';

/** No API of its own: only /healthz and /readyz (Redis and the bus), for the kubelet. */
export function buildApp(config: ExpirationConfig, logger: Logger, readiness: ReadinessChecks): Express {
  return createApp({
    logger,
    secureCookies: config.NODE_ENV === 'production',
    trustProxyHops: config.TRUST_PROXY_HOPS,
    readiness,
    routers: [],
  });
}
