import { randomBytes } from 'node:crypto';
import {
  invalid,
  missing,
  publicIntent,
  stripeCalls,
  unexpectedState,
  type Answer,
  type PaymentIntentStatus,
  type SeenRequest,
  type StoredIntent,
} from './stripe-types';

const INTENT_PATH = /^\/v1\/payment_intents\/([^/]+)(?:\/(confirm|cancel))?$/;

/**
 * The PaymentIntents of Stripe's test mode, as the front keeps them: created, confirmed (succeeded,
 * or declined for a `chargeDeclined` card, or what a test's rule says), cancelled, refunded once,
 * listed newest first. `apply` gives a request stripe-mock accepted the effect it has in test mode.
 */
export class TestModeIntents {
  private readonly intentsById = new Map<string, StoredIntent>();
  /** PaymentMethods created from a card token: pm id → token (for test-mode declines). */
  private readonly tokens = new Map<string, string>();
  private readonly refunded = new Set<string>();
  private confirmRules: Array<(intent: StoredIntent) => PaymentIntentStatus | undefined> = [];
  private sequence = 0;

  /** Every PaymentIntent, oldest first (copies). */
  all(): StoredIntent[] {
    return [...this.intentsById.values()].map((intent) => structuredClone(intent));
  }

  onConfirm(rule: (intent: StoredIntent) => PaymentIntentStatus | undefined): void {
    this.confirmRules.push(rule);
  }

  /** Forgets the confirmation rules (the intents stay, as at Stripe). */
  resetRules(): void {
    this.confirmRules = [];
  }

  settle(id: string, status: PaymentIntentStatus): void {
    const intent = this.intentsById.get(id);
    if (intent === undefined) throw new Error(`no PaymentIntent ${id}`);
    this.setStatus(intent, status);
  }

  /** Stripe's test-mode effect of a request stripe-mock accepted (`upstream` is its answer). */
  apply(seen: SeenRequest, upstream: Answer): Answer {
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
