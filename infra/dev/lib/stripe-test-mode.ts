import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestModeIntents } from './stripe-intents';
import {
  invalid,
  stripeCalls,
  type Answer,
  type AnswerFault,
  type FakeResponse,
  type PaymentIntentStatus,
  type RequestMatch,
  type SeenRequest,
  type StoredIntent,
} from './stripe-types';

export {
  cardDeclined,
  stripeCalls,
  type AnswerFault,
  type FakeResponse,
  type PaymentIntentStatus,
  type RequestMatch,
  type SeenRequest,
  type StoredIntent,
} from './stripe-types';

/**
 * Stripe's test mode, played by a small HTTP server in front of stripe-mock.
 *
 * stripe-mock checks every request against Stripe's OpenAPI spec and answers from fixtures, but it
 * keeps no state: a retrieve returns a fixture, a confirm answers `requires_payment_method`, an
 * idempotency key is ignored. This front forwards every request to stripe-mock (so a malformed one
 * is still refused as Stripe would), and then answers PaymentIntent calls from the state it keeps:
 * create, retrieve, list, confirm and cancel behave as in Stripe's test mode (a confirmed intent
 * succeeds; a card whose token or PaymentMethod id says `chargeDeclined` is declined), a repeated
 * idempotency key replays the first answer, a refund needs a succeeded intent.
 *
 * It also records every request (tests count charges and read amounts), and lets a test play what
 * stripe-mock cannot: answer a request itself (a decline, an outage), hold requests (to stage races),
 * lose or delay an answer after the request took effect at "Stripe", run a hook at that moment
 * (to kill the caller), or settle an intent to another status (processing, then succeeded). It is a
 * real server on a real port; the service's Stripe client is simply pointed at it (STRIPE_API_BASE).
 * The jest setup starts one in front of the run's stripe-mock (TEST_STRIPE_URL), `npm start` one in
 * front of its own; tests that steer it start their own (`startStripeTestMode`).
 */

interface Replay {
  method: string;
  path: string;
  body: string;
  answer: Answer;
}

interface FaultRule {
  match: RequestMatch;
  fault: AnswerFault;
  left: number;
}

export class StripeTestMode {
  readonly requests: SeenRequest[] = [];
  private server: http.Server | undefined;
  private readonly intentStore = new TestModeIntents();
  private readonly replays = new Map<string, Replay>();
  private rules: Array<(req: SeenRequest) => FakeResponse | undefined> = [];
  private faults: FaultRule[] = [];
  private holds: Array<{ match: RequestMatch; waiting: Array<() => void> }> = [];

  constructor(private readonly target: string) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) throw new Error('the Stripe test-mode front is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Requests that create a PaymentIntent (they carry the amount): one per charge attempt. */
  charges(): SeenRequest[] {
    return this.requests.filter(stripeCalls.createIntent);
  }

  /** Requests that confirm a PaymentIntent: what actually takes the money. */
  confirmations(): SeenRequest[] {
    return this.requests.filter(stripeCalls.confirmIntent);
  }

  refunds(): SeenRequest[] {
    return this.requests.filter(stripeCalls.refund);
  }

  /** Every PaymentIntent created through the front, oldest first. */
  intents(): StoredIntent[] {
    return this.intentStore.all();
  }

  /** The PaymentIntents whose metadata.orderId is `orderId`. */
  intentsFor(orderId: string): StoredIntent[] {
    return this.intents().filter((intent) => intent.metadata['orderId'] === orderId);
  }

  /** Answers matching requests itself (first matching rule wins), before they reach "Stripe". */
  intercept(rule: (req: SeenRequest) => FakeResponse | undefined): void {
    this.rules.push(rule);
  }

  /** The next `times` requests that `match` take effect, and then their answer meets `fault`. */
  failAnswers(match: RequestMatch, fault: AnswerFault, times = 1): void {
    this.faults.push({ match, fault, left: times });
  }

  /** Holds matching requests before they take effect until the returned function is called. */
  hold(match: RequestMatch): () => void {
    const hold = { match, waiting: [] as Array<() => void> };
    this.holds.push(hold);
    return () => {
      this.holds = this.holds.filter((h) => h !== hold);
      for (const release of hold.waiting) release();
    };
  }

  /** Holds PaymentIntent creations until the returned function is called (to stage races). */
  holdCharges(): () => void {
    return this.hold(stripeCalls.createIntent);
  }

  /**
   * Decides the status a confirmation ends in: the first rule that returns one wins; with none,
   * test mode's rule (succeeded, or declined for a `chargeDeclined` card).
   */
  onConfirm(rule: (intent: StoredIntent) => PaymentIntentStatus | undefined): void {
    this.intentStore.onConfirm(rule);
  }

  /** Moves an intent to another status, as Stripe does when a `processing` payment settles. */
  settle(id: string, status: PaymentIntentStatus): void {
    this.intentStore.settle(id, status);
  }

  /** Forgets the test's rules and the recorded requests (the intents stay, as at Stripe). */
  reset(): void {
    this.rules = [];
    this.faults = [];
    this.intentStore.resetRules();
    for (const hold of this.holds) for (const release of hold.waiting) release();
    this.holds = [];
    this.requests.length = 0;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `stripe test mode: ${String(err)}` } }));
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.reset();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      path,
      form: new URLSearchParams(req.method === 'GET' ? query : raw),
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    };
    this.requests.push(seen);

    const hold = this.holds.find((h) => h.match(seen));
    if (hold !== undefined) await new Promise<void>((resolve) => hold.waiting.push(resolve));

    for (const rule of this.rules) {
      const fake = rule(seen);
      if (fake !== undefined) {
        send(res, fake);
        return;
      }
    }

    const answer = await this.answer(req, seen, raw);
    const faultRule = this.faults.find((f) => f.left > 0 && f.match(seen));
    if (faultRule === undefined) {
      send(res, answer);
      return;
    }
    faultRule.left -= 1;
    const fault = faultRule.fault;
    switch (fault.kind) {
      case 'drop':
        res.socket?.destroy();
        return;
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        if (!res.destroyed && res.socket?.destroyed !== true) send(res, answer);
        return;
      case 'server-error':
        send(res, { status: 500, body: { error: { type: 'api_error', message: 'An unknown error occurred' } } });
        return;
      case 'hook':
        await fault.run();
        if (res.socket?.destroyed !== true) send(res, answer);
        return;
    }
  }

  /** The request's effect and answer, replayed for a repeated idempotency key as Stripe does. */
  private async answer(req: http.IncomingMessage, seen: SeenRequest, raw: string): Promise<Answer> {
    const key = seen.method === 'POST' ? seen.idempotencyKey : undefined;
    if (key !== undefined) {
      const replay = this.replays.get(key);
      if (replay !== undefined) {
        if (replay.method === seen.method && replay.path === seen.path && replay.body === raw) return replay.answer;
        return invalid(
          'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          undefined,
          'idempotency_error',
        );
      }
    }
    const upstream = await this.forward(req, raw);
    // What stripe-mock refuses (an unknown parameter, a missing one) is not processed: not replayed.
    if (upstream.status >= 400) return upstream;
    const answer = this.intentStore.apply(seen, upstream);
    if (key !== undefined && answer.status < 500) {
      this.replays.set(key, { method: seen.method, path: seen.path, body: raw, answer });
    }
    return answer;
  }

  private forward(req: http.IncomingMessage, raw: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        `${this.target}${req.url ?? '/'}`,
        { method: req.method, headers: { ...req.headers, host: new URL(this.target).host } },
        (upstreamRes) => {
          const chunks: Buffer[] = [];
          upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstreamRes.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              // not JSON: passed on as it is
            }
            resolve({ status: upstreamRes.statusCode ?? 502, body });
          });
          upstreamRes.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(raw);
    });
  }
}

/** Starts a test-mode front in front of stripe-mock at `target` (on a free port unless given one). */
export async function startStripeTestMode(target: string, port = 0, host = '127.0.0.1'): Promise<StripeTestMode> {
  const front = new StripeTestMode(target);
  await front.start(port, host);
  return front;
}

function send(res: http.ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'request-id': `req_${randomBytes(7).toString('hex')}`,
  });
  res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
}
