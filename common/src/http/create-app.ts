import { randomUUID } from 'node:crypto';
import cookieSession from 'cookie-session';
import express, { type Express, type Router } from 'express';
import type { Logger } from 'pino';
import { DEFAULT_TRUST_PROXY_HOPS } from '../config';
import { requestContext } from '../log';
import { httpMetrics } from '../metrics';
import { currentUser } from './current-user';
import type { RevocationList } from './session-revocations';
import { errorHandler, notFound } from './error-handler';
import { healthRoutes, type ReadinessChecks } from './health';
import { requestLog } from './request-log';
import { securityHeaders } from './security-headers';

export interface AppOptions {
  logger: Logger;
  /** Verifies session cookies; services without users (expiration) pass undefined. */
  jwtKey?: string;
  /** Signed-out sessions (SessionRevocations): their tokens are refused. Every service's main passes it. */
  revocations?: RevocationList;
  /** Send the session cookie over HTTPS only (production, behind the ingress's TLS). */
  secureCookies: boolean;
  readiness: ReadinessChecks;
  routers: Router[];
  /**
   * How many proxies in front of the service append to X-Forwarded-For (TRUST_PROXY_HOPS): the
   * ingress, or the gateway of `npm start`. 1 when absent.
   */
  trustProxyHops?: number;
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

/**
 * The shape every service shares: request metrics, security headers, request ids (taken from X-Request-Id when the
 * gateway sent a sane one), JSON bodies, the session cookie, health routes, the service's routers,
 * a JSON 404 and the central error handler. No I/O happens here, so supertest can import the app.
 */
export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: Express would hash every JSON body (writes included) for a header an API client with a
  // session cookie has no use for.
  app.set('etag', false);
  // Trust exactly the proxies we run, counted from the service: the client address is the entry the
  // last of them appended to X-Forwarded-For, and whatever the client itself put in the header (to
  // pick its own rate-limit bucket) is ignored. The same hops are trusted for X-Forwarded-Proto, so
  // secure cookies are still set behind the ingress's TLS. `true` would take the leftmost entry: the
  // client's own claim.
  app.set('trust proxy', opts.trustProxyHops ?? DEFAULT_TRUST_PROXY_HOPS);
  app.use(httpMetrics());
  app.use(securityHeaders());
  app.use((req, res, next) => {
    const header = req.header('x-request-id');
    const requestId = header !== undefined && REQUEST_ID.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    requestContext.run({ requestId }, next);
  });
  app.use(requestLog(opts.logger));
  app.use(express.json({ limit: '100kb' }));
  app.use(
    cookieSession({
      name: 'session',
      signed: false,
      secure: opts.secureCookies,
      httpOnly: true,
      sameSite: 'lax',
    }),
  );
  if (opts.jwtKey !== undefined) app.use(currentUser(opts.jwtKey, opts.revocations));
  app.use(healthRoutes(opts.readiness));
  for (const router of opts.routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(opts.logger));
  return app;
}
