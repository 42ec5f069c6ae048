import { randomBytes } from 'node:crypto';
import { eventually, testDatabaseName } from '@ticketing/common/testing';
import { ResponseValidator } from '../../api/validate-response';
import { startStack, type Stack, type StackOptions } from '@ticketing/devinfra';

/**
 * End-to-end helpers: the whole system as separate processes (infra/dev/stack/) behind the gateway,
 * driven with plain fetch like a browser would, each user with its own cookie jar.
 *
 * Each test file starts its own stack: its own NATS Streaming (so its channels and durable
 * subscriptions are its own) and Redis (so its expiration queue is its own), and its own databases
 * on the run's shared Mongo server. Set E2E_LOG_DIR to keep the services' logs after the run.
 */

/** Long enough for a first build of every workspace on two cores, with other test files running. */
export const STACK_START_TIMEOUT_MS = 180_000;

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: run the e2e tests with jest from the repository root (its globalSetup starts the servers)`,
    );
  }
  return value;
}

/** `client: true` builds (when stale) and runs the web client too: the browser tests (test/browser). */
export async function startE2eStack(
  env: Record<string, string> = {},
  opts: Pick<StackOptions, 'services' | 'client'> = {},
): Promise<Stack> {
  return startStack({
    ...opts,
    client: opts.client ?? false,
    port: 0,
    ephemeral: true,
    // Dozens of test users sign up from 127.0.0.1 within a minute: lift auth's per-IP limit.
    env: { LOG_LEVEL: 'info', AUTH_RATE_LIMIT_PER_MINUTE: '100000', ...env },
    infra: { mongoUri: requireEnv('TEST_MONGO_URI'), stripeUrl: requireEnv('TEST_STRIPE_URL') },
    databasePrefix: `${testDatabaseName()}_`,
    ...(process.env['E2E_LOG_DIR'] ? { logDir: process.env['E2E_LOG_DIR'] } : {}),
    // Service warnings and errors go to stderr so a failing run shows what the services saw.
    log: (line) => process.stderr.write(`${line}\n`),
    readyTimeoutMs: 120_000,
  });
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ApiErrorBody {
  errors: Array<{ message: string; code?: string; field?: string }>;
}

export interface TicketJson {
  id: string;
  title: string;
  price: number;
  userId: string;
  version: number;
  orderId?: string;
  sold?: boolean;
}

export interface OrderJson {
  id: string;
  userId: string;
  status: 'created' | 'awaiting:payment' | 'complete' | 'cancelled';
  expiresAt: string;
  price: number;
  version: number;
  ticket: { id: string; title: string; price: number };
}

const described = new ResponseValidator();

/** An answer api/openapi.ts does not describe; never retried by the polling helpers below. */
export class UndescribedResponseError extends Error {
  override name = 'UndescribedResponseError';
}

/** Polls like eventually(), except that an undescribed answer fails at once instead of being retried. */
async function pollDescribed<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const result = await eventually<{ value: T } | { error: UndescribedResponseError }>(
    async () => {
      try {
        return { value: await attempt() };
      } catch (error) {
        if (error instanceof UndescribedResponseError) return { error };
        throw error;
      }
    },
    { timeoutMs, intervalMs: 100 },
  );
  if ('error' in result) throw result.error;
  return result.value;
}

/**
 * A browser-like client: one cookie jar (the session cookie), JSON in and out, through the gateway.
 * Every answer must be one api/openapi.ts describes (route, status, body schema, error code):
 * otherwise the request throws, naming the route and the status, so a response that changed
 * without the document fails the test that saw it. The gateway's own 502/503/504 (UPSTREAM_*)
 * are the entry's, not the API's, and are not checked.
 */
export class Client {
  private cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly email = `user-${randomBytes(6).toString('hex')}@example.test`,
    readonly password = 'correct-horse-9',
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookies.size > 0) {
      headers['cookie'] = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    this.storeCookies(res.headers.getSetCookie());
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: keep the text, the assertion will show it.
    }
    const fromGateway = res.status >= 502 && /"code":"UPSTREAM_/.test(text);
    if (!fromGateway) {
      const problem = described.check(method, path, res.status, parsed);
      if (problem !== undefined) throw new UndescribedResponseError(problem);
    }
    return { status: res.status, body: parsed as T };
  }

  get<T = unknown>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  put<T = unknown>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, body);
  }

  patch<T = unknown>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('PATCH', path, body);
  }

  private storeCookies(setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (value === '' || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  hasSession(): boolean {
    return this.cookies.has('session');
  }

  /** Another client holding a copy of this one's cookies (a cookie copied off the machine). */
  copy(): Client {
    const other = new Client(this.baseUrl, this.email, this.password);
    for (const [name, value] of this.cookies) other.cookies.set(name, value);
    return other;
  }

  /** The Cookie header this client sends. */
  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export function errorCode(res: ApiResponse): string | undefined {
  const body = res.body as Partial<ApiErrorBody> | undefined;
  return body?.errors?.[0]?.code;
}

/** A signed-up (and so signed-in) user. */
export async function signUp(baseUrl: string): Promise<Client> {
  const client = new Client(baseUrl);
  const res = await client.post('/api/users/signup', { email: client.email, password: client.password });
  if (res.status !== 201) throw new Error(`signup answered ${res.status}: ${JSON.stringify(res.body)}`);
  return client;
}

export async function sellTicket(
  seller: Client,
  price = 25.5,
  title = `Concert ${randomBytes(3).toString('hex')}`,
): Promise<TicketJson> {
  const res = await seller.post<TicketJson>('/api/tickets', { title, price });
  if (res.status !== 201) throw new Error(`POST /api/tickets answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Orders a ticket as soon as the orders service knows it: it learns of a new ticket from
 * ticket:created, so until then the answer is 404. Any other answer ends the wait.
 */
export async function orderWhenKnown(
  buyer: Client,
  ticketId: string,
  timeoutMs = 15_000,
): Promise<ApiResponse<OrderJson>> {
  return pollDescribed(async () => {
    const res = await buyer.post<OrderJson>('/api/orders', { ticketId });
    if (res.status === 404) throw new Error(`the orders service does not know ticket ${ticketId} yet`);
    return res;
  }, timeoutMs);
}

/** Pays for an order as soon as the payments service knows it (from order:created; 404 until then). */
export async function payWhenKnown(
  buyer: Client,
  orderId: string,
  timeoutMs = 15_000,
): Promise<ApiResponse<{ id: string }>> {
  return pollDescribed(async () => {
    const res = await buyer.post<{ id: string }>('/api/payments', { orderId, token: 'tok_visa' });
    if (res.status === 404) throw new Error(`the payments service does not know order ${orderId} yet`);
    return res;
  }, timeoutMs);
}

export async function getTicket(client: Client, id: string): Promise<TicketJson> {
  const res = await client.get<TicketJson>(`/api/tickets/${id}`);
  if (res.status !== 200) throw new Error(`GET /api/tickets/${id} answered ${res.status}`);
  return res.body;
}

export async function getOrder(client: Client, id: string): Promise<OrderJson> {
  const res = await client.get<OrderJson>(`/api/orders/${id}`);
  if (res.status !== 200) throw new Error(`GET /api/orders/${id} answered ${res.status}`);
  return res.body;
}
