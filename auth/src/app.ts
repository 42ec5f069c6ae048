import {
  createApp,
  type Logger,
  type OutboxRelay,
  type ReadinessChecks,
  type SessionRevocations,
} from '@ticketing/common';
import type { Express } from 'express';
import type { AuthConfig } from './config';
import { rateLimit } from './middlewares/rate-limit';
import { currentUserRouter } from './routes/current-user';
import { signinRouter } from './routes/signin';
import { signoutRouter } from './routes/signout';
import { signupRouter } from './routes/signup';

export interface AuthSessions {
  /** Stores a signout with its session:revoked (see routes/signout.ts). */
  relay: OutboxRelay;
  revocations: SessionRevocations;
}

export function buildApp(
  config: AuthConfig,
  logger: Logger,
  readiness: ReadinessChecks,
  sessions: AuthSessions,
): Express {
  const limit = { limit: config.AUTH_RATE_LIMIT_PER_MINUTE, windowMs: 60_000 };
  return createApp({
    logger,
    jwtKey: config.JWT_KEY,
    revocations: sessions.revocations,
    secureCookies: config.NODE_ENV === 'production',
    trustProxyHops: config.TRUST_PROXY_HOPS,
    readiness,
    routers: [
      signupRouter(config.JWT_KEY, config.JWT_EXPIRES_IN_SECONDS, rateLimit(limit)),
      signinRouter(config.JWT_KEY, config.JWT_EXPIRES_IN_SECONDS, rateLimit(limit)),
      signoutRouter({ jwtKey: config.JWT_KEY, ...sessions }),
      currentUserRouter,
    ],
  });
}
