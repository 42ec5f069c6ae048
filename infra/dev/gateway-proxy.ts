import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { ErrorCode } from '../../common/src/errors/codes';
import type { GatewayRoute } from './gateway';

/** What proxying needs from the gateway: its keep-alive agent to the services, its timeout, its log. */
export interface Upstreams {
  agent: http.Agent;
  timeoutMs: number;
  log?: (line: string) => void;
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

/**
 * Streams a request to the service at `target` and its answer back. A request that cannot get an
 * answer gets the API's error shape: 504 UPSTREAM_TIMEOUT, 502 UPSTREAM_UNAVAILABLE.
 */
export function proxy(
  ctx: Upstreams,
  req: IncomingMessage,
  res: ServerResponse,
  route: GatewayRoute,
  target: string,
  retry = true,
): void {
  const { agent, timeoutMs } = ctx;
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
      proxy(ctx, req, res, route, target, false);
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
      unavailable(ctx, res, route.service, (err as NodeJS.ErrnoException).code ?? err.message);
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
}

export function unavailable(ctx: Upstreams, res: ServerResponse, service: string, reason: string): void {
  ctx.log?.(`gateway: ${service} unavailable (${reason})`);
  sendError(res, 502, `The ${service} service is unavailable`, 'UPSTREAM_UNAVAILABLE');
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

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, code: ErrorCode): void {
  sendJson(res, status, { errors: [{ message, code }] });
}
