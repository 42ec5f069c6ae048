import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorCode } from '../../common/src/errors/codes';

/**
 * The dev stack's stand-in for the Kubernetes Ingress (infra/k8s/ingress.yaml): one port, requests
 * routed to a service by path prefix, bodies streamed both ways. It adds what ingress-nginx adds
 * (X-Forwarded-For/Proto/Host, X-Request-Id) and answers in the API's error shape when it cannot
 * reach a service, so a client sees the same contract with or without a cluster.
 */

export interface GatewayRoute {
  /**
   * Path prefix, e.g. "/api/users": matches "/api/users", "/api/users/..." and "/api/users?...".
   * "/" matches every path: the web client's catch-all, listed last (after the API's prefixes).
   */
  prefix: string;
  /** Service name, for error messages and logs. */
  service: string;
  /** Base URL of the service (http://127.0.0.1:PORT), or undefined while it is not running. */
  target: () => string | undefined;
  /**
   * True while the service is being built or started: a request then gets 503 UPSTREAM_STARTING
   * with Retry-After, not the 502 of a service that is down.
   */
  starting?: () => boolean;
}

/**
 * A page the gateway answers itself (the API document, the status page) before routing. A
 * loopback-only page answers only to clients on this machine; anyone else gets the 404 of a path
 * nobody serves, as the Ingress would.
 */
export interface GatewayPage {
  path: string;
  loopbackOnly?: boolean;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface GatewayOptions {
  routes: GatewayRoute[];
  pages?: GatewayPage[];
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** How long an upstream may take to answer before the client gets a 504; 30 s by default. */
  upstreamTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Routes of the Ingress, in its order: the API's prefixes, then (when `targets` has a `client`) the
 * web client for every other path.
 */
export function ingressRoutes(
  targets: Record<string, () => string | undefined>,
  starting?: (service: string) => boolean,
): GatewayRoute[] {
  const table: Array<[string, string]> = [
    ['/api/users', 'auth'],
    ['/api/tickets', 'tickets'],
    ['/api/orders', 'orders'],
    ['/api/payments', 'payments'],
  ];
  if (targets['client'] !== undefined) table.push(['/', 'client']);
  return table.map(([prefix, service]) => ({
    prefix,
    service,
    target: targets[service] ?? (() => undefined),
    ...(starting === undefined ? {} : { starting: () => starting(service) }),
  }));
}

// Connection-level headers are meaningful for one hop only (RFC 9110 §7.6.1); forwarding them breaks
// keep-alive and chunked framing between the two hops.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// The same rule the services apply (common/src/http/create-app.ts): anything else is replaced.
const REQUEST_ID = /^[\w.-]{1,64}$/;

export function matchRoute(routes: GatewayRoute[], url: string): GatewayRoute | undefined {
  const pathname = url.split('?', 1)[0] ?? '';
  return routes.find(
    (route) => route.prefix === '/' || pathname === route.prefix || pathname.startsWith(`${route.prefix}/`),
  );
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.upstreamTimeoutMs ?? 30_000;
  // Keep-alive to the services: the e2e tests send bursts of requests, and a fresh TCP connection per
  // request would exhaust ephemeral ports long before the services are the bottleneck.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((req, res) => {
    if (req.url === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '';
    const page = opts.pages?.find((p) => p.path === pathname);
    if (
      page !== undefined &&
      (req.method === 'GET' || req.method === 'HEAD') &&
      (!page.loopbackOnly || isLoopback(req))
    ) {
      Promise.resolve(page.handle(req, res)).catch((error: unknown) => {
        opts.log?.(`gateway: ${pathname} failed: ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) sendError(res, 500, `${pathname} failed`, 'INTERNAL');
        else res.destroy();
      });
      return;
    }
    const route = matchRoute(opts.routes, req.url ?? '/');
    if (route === undefined) {
      sendError(
        res,
        404,
        `No route for ${req.method ?? 'GET'} ${(req.url ?? '/').split('?', 1)[0] ?? ''}`,
        'ROUTE_NOT_FOUND',
      );
      req.resume();
      return;
    }
    const target = route.target();
    if (target === undefined) {
      if (route.starting?.() === true) {
        res.setHeader('retry-after', '2');
        sendError(
          res,
          503,
          `The ${route.service} service is starting: try again in a few seconds`,
          'UPSTREAM_STARTING',
        );
      } else {
        unavailable(res, route.service, 'it is not running');
      }
      req.resume();
      return;
    }
    proxy(req, res, route, target);
  });

  const proxy = (
    req: IncomingMessage,
    res: ServerResponse,
    route: GatewayRoute,
    target: string,
    retry = true,
  ): void => {
    const upstream = new URL(target);
    const bodyless = hasNoBody(req);
    const upstreamReq = http.request({
      agent,
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req),
    });
    upstreamReq.setTimeout(timeoutMs, () => {
      upstreamReq.destroy(new UpstreamTimeout());
    });
    upstreamReq.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, withoutHopByHop(upstreamRes.headers));
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
    });
    upstreamReq.on('error', (err) => {
      // A kept-alive connection the upstream closed (its idle timeout: 5 s for Node servers) just as
      // this request went out on it: the request never reached the application, so one sent without
      // a body and safe to repeat is sent again on a new connection (as Node's docs advise for
      // req.reusedSocket). Anything else is the upstream's real answer to give.
      const code = (err as NodeJS.ErrnoException).code;
      const repeatable = bodyless && IDEMPOTENT.has(req.method ?? 'GET');
      if (retry && repeatable && upstreamReq.reusedSocket && code === 'ECONNRESET' && !res.headersSent) {
        proxy(req, res, route, target, false);
        return;
      }
      if (res.headersSent) {
        // The answer was already under way: all we can do is cut it, so the client sees a broken
        // response instead of a truncated one that looks complete.
        res.destroy();
        return;
      }
      if (err instanceof UpstreamTimeout) {
        sendError(res, 504, `The ${route.service} service did not answer within ${timeoutMs} ms`, 'UPSTREAM_TIMEOUT');
      } else {
        unavailable(res, route.service, (err as NodeJS.ErrnoException).code ?? err.message);
      }
    });
    // A client that goes away must not leave the upstream request hanging.
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    if (bodyless) {
      // Nothing to stream: end the request now, so that a retry (above) can send it again.
      req.resume();
      upstreamReq.end();
    } else {
      req.pipe(upstreamReq);
    }
  };

  const unavailable = (res: ServerResponse, service: string, reason: string): void => {
    opts.log?.(`gateway: ${service} unavailable (${reason})`);
    sendError(res, 502, `The ${service} service is unavailable`, 'UPSTREAM_UNAVAILABLE');
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Clients holding keep-alive sockets with a request in flight get their answer; the agent's
        // idle sockets to services are released so the services can drain and exit.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
        agent.destroy();
      }),
  };
}

class UpstreamTimeout extends Error {}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function forwardedHeaders(req: IncomingMessage): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = withoutHopByHop(req.headers);
  const clientIp = req.socket.remoteAddress ?? '';
  // Appends the address it sees to whatever the client sent, as ingress-nginx does with
  // compute-full-forwarded-for (by default it replaces the header with that address): either way the
  // rightmost entry is the one a proxy of ours wrote, which is what the services trust
  // (TRUST_PROXY_HOPS=1), and a client's own entries stay to its left, ignored.
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior === undefined || prior === '' ? clientIp : `${String(prior)}, ${clientIp}`;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = req.headers.host ?? '';
  const requestId = req.headers['x-request-id'];
  headers['x-request-id'] = typeof requestId === 'string' && REQUEST_ID.test(requestId) ? requestId : randomUUID();
  return headers;
}

function withoutHopByHop(headers: IncomingHttpHeaders): http.OutgoingHttpHeaders {
  // Headers named in Connection are hop-by-hop too.
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, code: ErrorCode): void {
  sendJson(res, status, { errors: [{ message, code }] });
}
