import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** One request that reached the front, as Stripe would have received it. */
export interface SeenRequest {
  method: string;
  /** Without the query string. */
  path: string;
  /** The form-encoded body (or the query string of a GET), decoded: `form.get('amount')`. */
  form: URLSearchParams;
  idempotencyKey: string | undefined;
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

/** A PaymentIntent as this front keeps it: stripe-mock's object with the fields a service reads. */
export interface StoredIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: PaymentIntentStatus;
  metadata: Record<string, string>;
  payment_method: string | null;
  created: number;
  [field: string]: unknown;
}

/** What happens to the answer of a request that took effect (see `failAnswers`). */
export type AnswerFault =
  /** The connection is reset instead of answered: a reset after the request was sent. */
  | { kind: 'drop' }
  /** The answer leaves `ms` later (longer than the client's timeout: a timeout). */
  | { kind: 'delay'; ms: number }
  /** A 500 api_error although the request took effect. */
  | { kind: 'server-error' }
  /** `run` is awaited before the answer is sent (to kill the caller at that moment, say). */
  | { kind: 'hook'; run: () => Promise<void> | void };

export type RequestMatch = (req: SeenRequest) => boolean;

/** Request predicates for `failAnswers`, `hold` and friends. */
export const stripeCalls = {
  createIntent: (req: SeenRequest): boolean => req.method === 'POST' && req.path === '/v1/payment_intents',
  confirmIntent: (req: SeenRequest): boolean =>
    req.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(req.path),
  cancelIntent: (req: SeenRequest): boolean =>
    req.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/cancel$/.test(req.path),
  retrieveIntent: (req: SeenRequest): boolean =>
    req.method === 'GET' && /^\/v1\/payment_intents\/[^/]+$/.test(req.path) && !req.path.endsWith('/search'),
  listIntents: (req: SeenRequest): boolean => req.method === 'GET' && req.path === '/v1/payment_intents',
  refund: (req: SeenRequest): boolean => req.method === 'POST' && req.path === '/v1/refunds',
};

interface Answer {
  status: number;
  body: unknown;
}

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

const INTENT_PATH = /^\/v1\/payment_intents\/([^/]+)(?:\/(confirm|cancel))?$/;

export class StripeTestMode {
  readonly requests: SeenRequest[] = [];
  private server: http.Server | undefined;
  private readonly intentsById = new Map<string, StoredIntent>();
  /** PaymentMethods created from a card token: pm id → token (for test-mode declines). */
  private readonly tokens = new Map<string, string>();
  private readonly refunded = new Set<string>();
  private readonly replays = new Map<string, Replay>();
  private rules: Array<(req: SeenRequest) => FakeResponse | undefined> = [];
  private faults: FaultRule[] = [];
  private holds: Array<{ match: RequestMatch; waiting: Array<() => void> }> = [];
  private confirmRules: Array<(intent: StoredIntent) => PaymentIntentStatus | undefined> = [];
  private sequence = 0;

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
    return [...this.intentsById.values()].map((intent) => structuredClone(intent));
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
    this.confirmRules.push(rule);
  }

  /** Moves an intent to another status, as Stripe does when a `processing` payment settles. */
  settle(id: string, status: PaymentIntentStatus): void {
    const intent = this.intentsById.get(id);
    if (intent === undefined) throw new Error(`no PaymentIntent ${id}`);
    this.setStatus(intent, status);
  }

  /** Forgets the test's rules and the recorded requests (the intents stay, as at Stripe). */
  reset(): void {
    this.rules = [];
    this.faults = [];
    this.confirmRules = [];
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
    const answer = this.apply(seen, upstream);
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

  /** Stripe's test-mode effect of a request stripe-mock accepted (`upstream` is its answer). */
  private apply(seen: SeenRequest, upstream: Answer): Answer {
    const form = seen.form;
    if (seen.method === 'POST' && seen.path === '/v1/payment_methods') {
      const token = form.get('card[token]');
      const id = (upstream.body as { id?: unknown }).id;
      if (token !== null && typeof id === 'string') this.tokens.set(id, token);
      return upstream;
    }
    if (stripeCalls.createIntent(seen)) return this.createIntent(form, upstream.body as StoredIntent);
    if (stripeCalls.listIntents(seen)) return { status: 200, body: this.list(form) };
    if (stripeCalls.refund(seen)) return this.refund(form, upstream);
    const match = INTENT_PATH.exec(seen.path);
    if (match === null || match[1] === 'search') return upstream;
    const intent = this.intentsById.get(match[1] ?? '');
    if (intent === undefined) return missing(match[1] ?? '');
    switch (match[2]) {
      case undefined:
        if (seen.method !== 'GET') return upstream;
        return { status: 200, body: structuredClone(intent) };
      case 'confirm':
        return this.confirm(intent, form);
      case 'cancel':
        if (intent.status === 'succeeded' || intent.status === 'canceled') return unexpectedState(intent, 'cancel');
        this.setStatus(intent, 'canceled');
        intent['cancellation_reason'] = form.get('cancellation_reason');
        return { status: 200, body: structuredClone(intent) };
      default:
        return upstream;
    }
  }

  private createIntent(form: URLSearchParams, fixture: StoredIntent): Answer {
    const intent: StoredIntent = {
      ...fixture,
      id: fixture.id,
      object: 'payment_intent',
      amount: Number(form.get('amount')),
      currency: form.get('currency') ?? 'usd',
      description: form.get('description'),
      metadata: metadataOf(form),
      payment_method: form.get('payment_method'),
      status: form.get('payment_method') === null ? 'requires_payment_method' : 'requires_confirmation',
      amount_received: 0,
      canceled_at: null,
      cancellation_reason: null,
      last_payment_error: null,
      latest_charge: null,
      next_action: null,
      created: Math.floor(Date.now() / 1000),
      // Ordering within one second of `created` (lists are newest first).
      _sequence: (this.sequence += 1),
    };
    this.intentsById.set(intent.id, intent);
    if (form.get('confirm') === 'true') return this.confirm(intent, form);
    return { status: 200, body: publicIntent(intent) };
  }

  private confirm(intent: StoredIntent, form: URLSearchParams): Answer {
    const paymentMethod = form.get('payment_method') ?? intent.payment_method;
    if (
      intent.status === 'succeeded' ||
      intent.status === 'canceled' ||
      intent.status === 'processing' ||
      intent.status === 'requires_capture'
    ) {
      return unexpectedState(intent, 'confirm');
    }
    if (paymentMethod === null) {
      return invalid('You cannot confirm this PaymentIntent because it has no payment method.', 'payment_method');
    }
    intent.payment_method = paymentMethod;
    let status: PaymentIntentStatus | undefined;
    for (const rule of this.confirmRules) {
      status = rule(structuredClone(intent));
      if (status !== undefined) break;
    }
    const card = `${paymentMethod} ${this.tokens.get(paymentMethod) ?? ''}`;
    if (status === undefined && /chargeDeclined/i.test(card)) {
      const error = {
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'generic_decline',
        message: 'Your card was declined.',
      };
      this.setStatus(intent, 'requires_payment_method');
      intent['last_payment_error'] = error;
      return { status: 402, body: { error: { ...error, payment_intent: publicIntent(intent) } } };
    }
    this.setStatus(intent, status ?? 'succeeded');
    return { status: 200, body: publicIntent(intent) };
  }

  private setStatus(intent: StoredIntent, status: PaymentIntentStatus): void {
    intent.status = status;
    if (status === 'succeeded') {
      intent['amount_received'] = intent.amount;
      intent['latest_charge'] = `ch_${randomBytes(12).toString('hex')}`;
    }
    if (status === 'canceled') intent['canceled_at'] = Math.floor(Date.now() / 1000);
    if (status === 'requires_action') intent['next_action'] = { type: 'use_stripe_sdk', use_stripe_sdk: {} };
  }

  private refund(form: URLSearchParams, upstream: Answer): Answer {
    const id = form.get('payment_intent');
    const intent = id === null ? undefined : this.intentsById.get(id);
    if (id === null || intent === undefined) return upstream;
    if (intent.status !== 'succeeded') {
      return invalid(`This PaymentIntent (${id}) does not have a successful charge to refund.`, 'payment_intent');
    }
    if (this.refunded.has(id)) {
      return invalid(
        `Charge ${String(intent['latest_charge'])} has already been refunded.`,
        undefined,
        'invalid_request_error',
        'charge_already_refunded',
      );
    }
    this.refunded.add(id);
    return {
      status: 200,
      body: { ...(upstream.body as object), payment_intent: id, amount: intent.amount, status: 'succeeded' },
    };
  }

  private list(form: URLSearchParams): unknown {
    const gte = numberOr(form.get('created[gte]'), -Infinity);
    const lte = numberOr(form.get('created[lte]'), Infinity);
    const limit = Math.min(Math.max(numberOr(form.get('limit'), 10), 1), 100);
    const after = form.get('starting_after');
    let all = [...this.intentsById.values()]
      .filter((i) => i.created >= gte && i.created <= lte)
      .sort((a, b) => b.created - a.created || Number(b['_sequence']) - Number(a['_sequence']));
    if (after !== null) {
      const at = all.findIndex((i) => i.id === after);
      all = at < 0 ? [] : all.slice(at + 1);
    }
    const page = all.slice(0, limit);
    return {
      object: 'list',
      url: '/v1/payment_intents',
      has_more: all.length > page.length,
      data: page.map(publicIntent),
    };
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

function publicIntent(intent: StoredIntent): StoredIntent {
  const copy = structuredClone(intent);
  delete copy['_sequence'];
  return copy;
}

function metadataOf(form: URLSearchParams): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of form) {
    const key = /^metadata\[(.+)\]$/.exec(name)?.[1];
    if (key !== undefined) metadata[key] = value;
  }
  return metadata;
}

function numberOr(raw: string | null, fallback: number): number {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

function invalid(message: string, param?: string, type = 'invalid_request_error', code?: string): Answer {
  return {
    status: 400,
    body: {
      error: { type, message, ...(param === undefined ? {} : { param }), ...(code === undefined ? {} : { code }) },
    },
  };
}

function missing(id: string): Answer {
  return {
    status: 404,
    body: {
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'intent',
        message: `No such payment_intent: '${id}'`,
      },
    },
  };
}

function unexpectedState(intent: StoredIntent, action: string): Answer {
  return {
    status: 400,
    body: {
      error: {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `You cannot ${action} this PaymentIntent because it has a status of ${intent.status}.`,
        payment_intent: publicIntent(intent),
      },
    },
  };
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
