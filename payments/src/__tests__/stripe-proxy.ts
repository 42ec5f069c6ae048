import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that reached the proxy, as Stripe would have received it. */
export interface SeenRequest {
  method: string;
  path: string;
  /** The form-encoded body, decoded: `form.get('amount')` is what Stripe would charge. */
  form: URLSearchParams;
  idempotencyKey: string | undefined;
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

/**
 * A tiny HTTP proxy in front of stripe-mock that records every request the payments service sends
 * (so tests can count charges and read the amounts), and can answer some requests itself with what
 * the real Stripe would say in cases stripe-mock cannot play (a declined card, an outage). It is a
 * real server on a real port; the service's Stripe client is simply pointed at it.
 */
export class StripeProxy {
  readonly requests: SeenRequest[] = [];
  private server: http.Server | undefined;
  private rules: Array<(req: SeenRequest) => FakeResponse | undefined> = [];
  private held: Array<() => void> | undefined;

  constructor(private readonly target: string) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) throw new Error('proxy not started');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Requests that create a PaymentIntent: one per charge attempt. */
  charges(): SeenRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
  }

  refunds(): SeenRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
  }

  /** Answers matching requests itself (first matching rule wins) until reset(). */
  intercept(rule: (req: SeenRequest) => FakeResponse | undefined): void {
    this.rules.push(rule);
  }

  /** Holds PaymentIntent creations until the returned function is called (to stage races). */
  holdCharges(): () => void {
    this.held = [];
    return () => {
      const waiting = this.held ?? [];
      this.held = undefined;
      for (const release of waiting) release();
    };
  }

  reset(): void {
    this.rules = [];
    this.requests.length = 0;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      form: new URLSearchParams(body.toString('utf8')),
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    };
    this.requests.push(seen);

    if (seen.path === '/v1/payment_intents' && this.held !== undefined) {
      const held = this.held;
      await new Promise<void>((resolve) => held.push(resolve));
    }

    for (const rule of this.rules) {
      const fake = rule(seen);
      if (fake !== undefined) {
        res.writeHead(fake.status, { 'content-type': 'application/json', 'request-id': 'req_proxy' });
        res.end(JSON.stringify(fake.body));
        return;
      }
    }

    const upstream = http.request(
      `${this.target}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: new URL(this.target).host } },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: `proxy: ${err.message}` } }));
    });
    upstream.end(body);
  }
}

/** What the real Stripe answers for a declined card. */
export function cardDeclined(): FakeResponse {
  return {
    status: 402,
    body: {
      error: {
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'generic_decline',
        message: 'Your card was declined.',
        param: '',
      },
    },
  };
}
