import { API_SERVICES, buildServiceApp, mountedRoutes, toOpenApiPath, type MountedRoute } from './mounted-routes';
import { openApiDocument, operations } from './openapi';
import { ResponseValidator } from './validate-response';

/** The document describes exactly what the services mount under /api, and is itself sound. */

// Each service in a module registry of its own: orders and payments both define a model named Order.
const mounted: MountedRoute[] = API_SERVICES.flatMap((service) => {
  let routes: MountedRoute[] = [];
  jest.isolateModules(() => {
    routes = mountedRoutes(service, buildServiceApp(service));
  });
  return routes.filter((route) => route.path.startsWith('/api/'));
});
const key = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

describe('api/openapi.ts', () => {
  it('describes every route a service mounts under /api', () => {
    const described = new Set(operations.map((op) => key(op.method, op.path)));
    const undescribed = mounted
      .map((route) => `${key(route.method, toOpenApiPath(route.path))} (${route.service})`)
      .filter((line) => !described.has(line.replace(/ \(\w+\)$/, '')));
    expect(undescribed).toEqual([]);
    // The walk found the services' routes at all (a broken walk would make the check above vacuous).
    expect(mounted.length).toBeGreaterThanOrEqual(12);
  });

  it('lists only routes some service mounts, each under the service that mounts it', () => {
    const routes = new Set(mounted.map((route) => `${key(route.method, toOpenApiPath(route.path))} ${route.service}`));
    const unmounted = operations
      .map((op) => `${key(op.method, op.path)} ${op.service}`)
      .filter((line) => !routes.has(line));
    expect(unmounted).toEqual([]);
  });

  it('is an OpenAPI 3.1 document whose schemas all compile and whose references resolve', () => {
    const doc = openApiDocument as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    const validator = new ResponseValidator();
    for (const name of Object.keys(doc.components.schemas)) expect(() => validator.schema(name)).not.toThrow();
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/\w+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(Object.keys(doc.components.schemas)).toContain(ref.slice(22, -1));
  });
});

describe('ResponseValidator', () => {
  const validator = new ResponseValidator();
  const ticket = { id: 'a'.repeat(24), title: 'Concert', price: 19.99, userId: 'b'.repeat(24), version: 0 };

  it('accepts a described answer', () => {
    expect(validator.check('GET', `/api/tickets/${ticket.id}?x=1`, 200, ticket)).toBeUndefined();
    expect(
      validator.check('PUT', `/api/tickets/${ticket.id}`, 400, { errors: [{ message: 'x', code: 'TICKET_SOLD' }] }),
    ).toBeUndefined();
  });

  it('names the route and status of an answer the document does not describe', () => {
    expect(validator.check('GET', `/api/tickets/${ticket.id}`, 200, { ...ticket, colour: 'red' })).toMatch(
      /^GET \/api\/tickets\/\{id\} 200: the body does not match Ticket .*colour/,
    );
    expect(validator.check('GET', `/api/tickets/${ticket.id}`, 418, {})).toMatch(
      /^GET \/api\/tickets\/\{id\} answered 418, a status api\/openapi.ts does not describe/,
    );
    expect(validator.check('DELETE', '/api/tickets', 200, {})).toMatch(
      /^DELETE \/api\/tickets is not in api\/openapi.ts/,
    );
    expect(validator.check('POST', '/api/orders', 400, { errors: [{ message: 'x', code: 'NEW_CODE' }] })).toMatch(
      /^POST \/api\/orders 400: error code NEW_CODE is not listed/,
    );
  });
});
