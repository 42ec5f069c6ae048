import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { proxy, sendError, sendJson, unavailable, type Upstreams } from './gateway-proxy';

export { sendJson } from './gateway-proxy';

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
  const upstreams: Upstreams = { agent, timeoutMs, ...(opts.log === undefined ? {} : { log: opts.log }) };

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
        unavailable(upstreams, res, route.service, 'it is not running');
      }
      req.resume();
      return;
    }
    proxy(upstreams, req, res, route, target);
  });

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

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
