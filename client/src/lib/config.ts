/**
 * The client's configuration, read from the environment of `next start` at request time (not baked in
 * at build time, so one image serves every environment):
 *
 * - API_URL: where server-side rendering reaches the API; the gateway in `npm start`, the ingress
 *   controller's internal service in a cluster. http://127.0.0.1:3000 by default.
 * - API_HOST: the Host header sent with those calls (ingress-nginx routes by host: ticketing.dev).
 * - API_ROUTES: optional per-prefix overrides, "/api/users=http://auth-srv:3000,/api/tickets=...",
 *   to call the services directly instead of through an entry point.
 * - STRIPE_PUBLISHABLE_KEY: when set, Pay collects the card with Stripe Elements; when unset, Pay
 *   sends Stripe's test card token tok_visa (stripe-mock, npm start, tests).
 * - TICKETS_PAGE_SIZE: tickets per page on the home page (1-100, 20 by default).
 */

export interface ClientConfig {
  apiUrl: string;
  apiHost: string | undefined;
  apiRoutes: Array<{ prefix: string; url: string }>;
  stripePublishableKey: string | undefined;
  ticketsPageSize: number;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseUrl(name: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new Error(`${name}: "${value}" is not an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

function parseRoutes(value: string | undefined): Array<{ prefix: string; url: string }> {
  if (value === undefined) return [];
  return (
    value
      .split(',')
      .map((pair) => pair.trim())
      .filter((pair) => pair !== '')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const prefix = pair.slice(0, eq).trim();
        if (eq <= 0 || !prefix.startsWith('/')) {
          throw new Error(`API_ROUTES: "${pair}" is not of the form /prefix=http://host:port`);
        }
        return { prefix: prefix.replace(/\/+$/, ''), url: parseUrl('API_ROUTES', pair.slice(eq + 1).trim()) };
      })
      // The longest prefix wins.
      .sort((a, b) => b.prefix.length - a.prefix.length)
  );
}

function parsePageSize(value: string | undefined): number {
  if (value === undefined) return 20;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 100) {
    throw new Error(`TICKETS_PAGE_SIZE: "${value}" is not an integer from 1 to 100`);
  }
  return size;
}

let cached: ClientConfig | undefined;

export function config(): ClientConfig {
  cached ??= {
    apiUrl: parseUrl('API_URL', nonEmpty(process.env['API_URL']) ?? 'http://127.0.0.1:3000'),
    apiHost: nonEmpty(process.env['API_HOST']),
    apiRoutes: parseRoutes(nonEmpty(process.env['API_ROUTES'])),
    stripePublishableKey: nonEmpty(process.env['STRIPE_PUBLISHABLE_KEY']),
    ticketsPageSize: parsePageSize(nonEmpty(process.env['TICKETS_PAGE_SIZE'])),
  };
  return cached;
}

/** The base URL a path is sent to: a matching API_ROUTES entry, else API_URL. */
export function baseUrlFor(path: string): string {
  const { apiRoutes, apiUrl } = config();
  const pathname = path.split('?', 1)[0] ?? path;
  const route = apiRoutes.find((r) => pathname === r.prefix || pathname.startsWith(`${r.prefix}/`));
  return route?.url ?? apiUrl;
}
