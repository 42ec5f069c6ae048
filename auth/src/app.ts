import { createApp, type Logger, type ReadinessChecks } from '@ticketing/common';
import type { Express } from 'express';
import type { AuthConfig } from './config';
import { rateLimit } from './middlewares/rate-limit';
import { currentUserRouter } from './routes/current-user';
import { signinRouter } from './routes/signin';
import { signoutRouter } from './routes/signout';
import { signupRouter } from './routes/signup';

export function buildApp(config: AuthConfig, logger: Logger, readiness: ReadinessChecks): Express {
  const limit = { limit: config.AUTH_RATE_LIMIT_PER_MINUTE, windowMs: 60_000 };
  return createApp({
    logger,
    jwtKey: config.JWT_KEY,
    secureCookies: config.NODE_ENV === 'production',
    trustProxyHops: config.TRUST_PROXY_HOPS,
    readiness,
    routers: [
      signupRouter(config.JWT_KEY, config.JWT_EXPIRES_IN_SECONDS, rateLimit(limit)),
      signinRouter(config.JWT_KEY, config.JWT_EXPIRES_IN_SECONDS, rateLimit(limit)),
      signoutRouter,
      currentUserRouter,
    ],
  });
}
