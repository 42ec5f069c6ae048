import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { freePort, ingressRoutes, sendJson, startGateway, type Gateway } from '@ticketing/devinfra';

/**
 * The dev gateway against stand-in services (plain HTTP servers that echo what they received), so
 * its routing and header rules are checked without starting the stack.
 */

interface Echo {
  service: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const upstreams: http.Server[] = [];
let gateway: Gateway;
let closedPort: number;

async function echoServer(service: string): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const echo: Echo = { service, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.writeHead(req.url?.includes('status=418') ? 418 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(echo));
    });
  });
  upstreams.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const auth = await echoServer('auth');
  const tickets = await echoServer('tickets');
  closedPort = await freePort();
  gateway = await startGateway({
    port: 0,
    routes: ingressRoutes({
      auth: () => auth,
      tickets: () => tickets,
      // Nothing listens there: a service that crashed.
      orders: () => `http://127.0.0.1:${closedPort}`,
      // Not started at all.
      payments: () => undefined,
    }),
  });
});

afterAll(async () => {
  await gateway.close();
  await Promise.all(upstreams.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('dev gateway', () => {
  it('routes by path prefix like the Ingress, keeping method, path, query and body', async () => {
    const res = await fetch(`${gateway.url}/api/users/signup?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@b.c' }),
    });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo).toMatchObject({ service: 'auth', method: 'POST', url: '/api/users/signup?x=1' });
    expect(JSON.parse(echo.body)).toEqual({ email: 'a@b.c' });

    const tickets = (await (await fetch(`${gateway.url}/api/tickets`)).json()) as Echo;
    expect(tickets).toMatchObject({ service: 'tickets', url: '/api/tickets' });
    const ticket = (await (await fetch(`${gateway.url}/api/tickets/abc?limit=2`)).json()) as Echo;
    expect(ticket).toMatchObject({ service: 'tickets', url: '/api/tickets/abc?limit=2' });
  });

  it('passes the status and every Set-Cookie header back', async () => {
    const res = await fetch(`${gateway.url}/api/users/currentuser?status=418`);
    expect(res.status).toBe(418);
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
  });

  it('adds X-Forwarded-* and a request id, keeping a sane one the client sent', async () => {
    const generated = (await (await fetch(`${gateway.url}/api/users/x`)).json()) as Echo;
    expect(generated.headers['x-forwarded-for']).toMatch(/127\.0\.0\.1/);
    expect(generated.headers['x-forwarded-proto']).toBe('http');
    expect(generated.headers['x-request-id']).toMatch(/^[\w.-]{1,64}$/);

    const kept = (await (
      await fetch(`${gateway.url}/api/users/x`, { headers: { 'x-request-id': 'req-42' } })
    ).json()) as Echo;
    expect(kept.headers['x-request-id']).toBe('req-42');
    const replaced = (await (
      await fetch(`${gateway.url}/api/users/x`, { headers: { 'x-request-id': 'bad id with spaces' } })
    ).json()) as Echo;
    expect(replaced.headers['x-request-id']).not.toBe('bad id with spaces');
  });

  it('appends the address it sees to the X-Forwarded-For the client sent, so that entry is last', async () => {
    const echo = (await (
      await fetch(`${gateway.url}/api/users/x`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    ).json()) as Echo;
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
  });

  it('answers 502 UPSTREAM_UNAVAILABLE in the API error shape when a service is down or absent', async () => {
    for (const path of ['/api/orders', '/api/payments']) {
      const res = await fetch(`${gateway.url}${path}`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { errors: Array<{ message: string; code: string }> };
      expect(body.errors[0]?.code).toBe('UPSTREAM_UNAVAILABLE');
    }
  });

  it('answers 503 UPSTREAM_STARTING with Retry-After while the stack is still starting a service', async () => {
    // What `npm start` serves while it builds and starts the services: orders is on its way, payments
    // was not written (so it is not coming).
    const starting = await startGateway({
      port: 0,
      routes: ingressRoutes({ orders: () => undefined, payments: () => undefined }, (service) => service === 'orders'),
    });
    try {
      const res = await fetch(`${starting.url}/api/orders`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      const body = (await res.json()) as { errors: Array<{ message: string; code: string }> };
      expect(body.errors[0]).toEqual({
        code: 'UPSTREAM_STARTING',
        message: 'The orders service is starting: try again in a few seconds',
      });
      expect((await fetch(`${starting.url}/api/payments`)).status).toBe(502);
    } finally {
      await starting.close();
    }
  });

  it('answers a JSON 404 for paths no service owns, including look-alike prefixes', async () => {
    for (const path of ['/', '/api', '/api/usersfoo', '/other']) {
      const res = await fetch(`${gateway.url}${path}`);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { errors: Array<{ code: string }> };
      expect(body.errors[0]?.code).toBe('ROUTE_NOT_FOUND');
    }
  });

  it('routes every other path to the web client, after the API paths', async () => {
    const client = await echoServer('client');
    const auth = await echoServer('auth');
    const withClient = await startGateway({
      port: 0,
      routes: ingressRoutes({ auth: () => auth, client: () => client }),
    });
    try {
      for (const path of ['/', '/tickets/abc', '/api', '/api/usersfoo', '/_next/static/x.js?v=1']) {
        const echo = (await (await fetch(`${withClient.url}${path}`)).json()) as Echo;
        expect({ path, service: echo.service, url: echo.url }).toEqual({ path, service: 'client', url: path });
      }
      const api = (await (await fetch(`${withClient.url}/api/users/currentuser`)).json()) as Echo;
      expect(api.service).toBe('auth');
      // Not started: a service route keeps its own 502, it does not fall through to the client.
      expect((await fetch(`${withClient.url}/api/orders`)).status).toBe(502);
    } finally {
      await withClient.close();
    }
  });

  it('sends a GET again on a new connection when the upstream closed the kept-alive one under it', async () => {
    // An upstream that answers the first request of each connection with keep-alive, then resets the
    // connection when a second request arrives on it: what a Node server's idle timeout (5 s) does
    // when it fires just as the gateway reuses the connection.
    let connections = 0;
    const upstream = net.createServer((socket) => {
      connections += 1;
      let requests = 0;
      socket.on('data', (chunk) => {
        if (!chunk.toString('latin1').includes('\r\n\r\n')) return;
        requests += 1;
        if (requests > 1) {
          socket.resetAndDestroy();
          return;
        }
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const flaky = await startGateway({ port: 0, routes: ingressRoutes({ client: () => url }) });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${flaky.url}/page-${i}`);
        expect({ i, status: res.status, body: await res.text() }).toEqual({ i, status: 200, body: 'ok' });
      }
      // Each retry went out on a new connection.
      expect(connections).toBe(3);
      // A request with a body is not repeated (it may have reached the application): its error shows.
      const post = await fetch(`${flaky.url}/form`, { method: 'POST', body: 'x=1' });
      expect(post.status).toBe(502);
    } finally {
      await flaky.close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('serves its own /healthz', async () => {
    const res = await fetch(`${gateway.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers a loopback-only page (the status page) to this machine only: others get the 404', async () => {
    // An address of this machine that is not loopback, so the gateway sees a remote client.
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    expect(external).toEqual(expect.any(String));
    const open = await startGateway({
      port: 0,
      host: '0.0.0.0',
      routes: [],
      pages: [
        { path: '/_status.json', loopbackOnly: true, handle: (_req, res) => sendJson(res, 200, { up: true }) },
        { path: '/api/openapi.json', handle: (_req, res) => sendJson(res, 200, { openapi: '3.1.0' }) },
      ],
    });
    try {
      expect(await (await fetch(`http://127.0.0.1:${open.port}/_status.json`)).json()).toEqual({ up: true });
      const remote = await fetch(`http://${external}:${open.port}/_status.json`);
      expect(remote.status).toBe(404);
      expect(((await remote.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('ROUTE_NOT_FOUND');
      // The API document is for everyone.
      expect((await fetch(`http://${external}:${open.port}/api/openapi.json`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
