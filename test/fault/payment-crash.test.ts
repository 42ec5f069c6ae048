import { Publisher, Subjects, type Bus, type TicketCreatedEvent } from '@ticketing/common';
import {
  startNatsStreaming,
  startStripeTestMode,
  startTcpProxy,
  stripeCalls,
  type NatsStreamingServer,
  type StripeTestMode,
  type TcpProxy,
} from '@ticketing/devinfra';
import {
  TEST_JWT_KEY,
  eventually,
  sessionCookie,
  testMongoUri,
  testStripeMockUrl,
  withDatabase,
} from '@ticketing/common/testing';
import mongoose from 'mongoose';
import { connectPrivateBus, figure, newId, openDatabase, type Database } from './support/fixtures';
import { requestJson } from './support/http-client';
import { ensureBuilt, startServiceProcess, type ServiceProcess } from './support/service-process';

/**
 * Payments and orders as production runs them (their own processes, on a private bus), in front of
 * Stripe's test mode (stripe-test-mode.ts). Payments reaches its database through a TCP proxy, so a
 * test can stop its writes at the exact moment it wants. The reconciler runs with its default
 * settings (a pass every 10 s, a request's claim taken as stale after 30 s), so the times these
 * tests print (FAULT_FIGURES=1) are what production would see.
 *
 * - Payments is SIGKILLed after Stripe answered the confirmation and before the payment was saved:
 *   after a restart the reconciler finds the PaymentIntent, records it, and the order completes (or,
 *   cancelled meanwhile, the charge is refunded).
 * - Payments is SIGKILLed before it heard that Stripe created the intent (no intent id stored): the
 *   reconciler finds the unconfirmed intent by its metadata, cancels it and frees the order.
 * - The confirmation's answer is lost (every try of the Stripe client): 202 pending; the buyer's
 *   retry with a new token charges nothing; the order completes once.
 */

/**
 * The bound the defaults promise (docs/payments): settled within 60 s. The defaults give 30 s (the
 * stale claim) + 10 s (a pass) at worst; the rest is room for a loaded machine.
 */
const SETTLE_MS = 60_000;

class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}

interface OrderJson {
  id: string;
  status: string;
}

let nats: NatsStreamingServer;
let bus: Bus;
let stripe: StripeTestMode;
let orders: ServiceProcess;
const running: ServiceProcess[] = [];
const proxies: TcpProxy[] = [];
const databases: Database[] = [];

const baseUri = (): URL => new URL(testMongoUri());

beforeAll(async () => {
  const [server] = await Promise.all([startNatsStreaming({ store: 'memory' }), ensureBuilt(['orders', 'payments'])]);
  nats = server;
  bus = await connectPrivateBus(nats, 'payment-crash');
  stripe = await startStripeTestMode(testStripeMockUrl());
  const ordersUri = withDatabase(testMongoUri(), `${baseUri().pathname.slice(1)}_orders`);
  databases.push(await openDatabase(ordersUri));
  orders = await startServiceProcess('orders', {
    MONGO_URI: ordersUri,
    NATS_URL: nats.url,
    NATS_CLUSTER_ID: nats.clusterId,
    JWT_KEY: TEST_JWT_KEY,
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((service) => service.stop()));
  await orders?.stop();
  for (const proxy of proxies) await proxy.close();
  for (const database of databases) {
    await database.db.dropDatabase();
    await database.close();
  }
  await stripe?.stop();
  await bus?.close();
  await nats?.stop();
}, 60_000);

beforeEach(() => {
  stripe.reset();
});

// Every payments process joins the same durable queue group: one left running would take the next
// test's order:created into its own database.
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop()));
}, 60_000);

interface Payments {
  service: ServiceProcess;
  env: Record<string, string>;
  database: Database;
  /** Payments' way to its database. */
  dbProxy: TcpProxy;
}

/**
 * How long a payments process may take to be ready: it replays the session revocations and waits
 * for its own marker before it serves, which takes longer than 30 s on 2 cores running the suite.
 */
const START_TIMEOUT_MS = 90_000;

/** A payments process on a database of its own, reached through a TCP proxy. */
async function startPayments(name: string): Promise<Payments> {
  const uri = new URL(withDatabase(testMongoUri(), `${baseUri().pathname.slice(1)}_${name}`));
  const dbProxy = await startTcpProxy({ host: uri.hostname, port: Number(uri.port) }, { mongo: true });
  proxies.push(dbProxy);
  const database = await openDatabase(uri.toString());
  databases.push(database);
  const proxied = new URL(uri.toString());
  proxied.host = `127.0.0.1:${dbProxy.port}`;
  const env = {
    MONGO_URI: proxied.toString(),
    NATS_URL: nats.url,
    NATS_CLUSTER_ID: nats.clusterId,
    JWT_KEY: TEST_JWT_KEY,
    STRIPE_KEY: 'sk_test_123',
    STRIPE_API_BASE: stripe.url,
  };
  const service = await startServiceProcess('payments', env, { readyTimeoutMs: START_TIMEOUT_MS });
  running.push(service);
  return { service, env, database, dbProxy };
}

/** The same payments again, on its port, after it died. */
async function restart(payments: Payments): Promise<ServiceProcess> {
  const service = await startServiceProcess('payments', payments.env, {
    port: payments.service.port,
    readyTimeoutMs: START_TIMEOUT_MS,
  });
  running.push(service);
  return service;
}

interface Buyer {
  id: string;
  cookie: string[];
}

/** A ticket on sale (as the tickets service announces it) and a buyer's order of it, known to payments. */
async function orderOfNewTicket(payments: Payments): Promise<{ buyer: Buyer; order: OrderJson }> {
  const ticket = { id: newId(), version: 0, title: 'Concert', price: 42, userId: newId() };
  await new TicketCreatedPublisher(bus).publish(ticket);
  const id = newId();
  const buyer = { id, cookie: sessionCookie({ id, email: `${id}@example.com` }, TEST_JWT_KEY) };
  const created = await eventually(
    async () => {
      const res = await requestJson<OrderJson>(`${orders.url}/api/orders`, {
        method: 'POST',
        body: { ticketId: ticket.id },
        cookie: buyer.cookie,
      });
      expect(res.status).toBe(201);
      return res.body;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  // Payments can take the payment once order:created reached its replica.
  const replica = payments.database.db.collection('orders');
  await eventually(
    async () => expect(await replica.findOne({ _id: new mongoose.Types.ObjectId(created.id) })).not.toBeNull(),
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  return { buyer, order: created };
}

/** POST /api/payments. */
function pay(payments: ServiceProcess, buyer: Buyer, orderId: string, token: string) {
  return requestJson<{ id: string; status: string; errors?: Array<{ code: string }> }>(`${payments.url}/api/payments`, {
    method: 'POST',
    body: { orderId, token },
    cookie: buyer.cookie,
    timeoutMs: 30_000,
  });
}

async function orderStatus(buyer: Buyer, orderId: string): Promise<string> {
  const res = await requestJson<OrderJson>(`${orders.url}/api/orders/${orderId}`, { cookie: buyer.cookie });
  return res.body.status;
}

/**
 * Arms the crash: once Stripe has processed the next confirmation, and before its answer leaves,
 * payments' next write to its payments collection (the save of the success) is held by the database
 * proxy; the moment it is, the proxy is cut and payments SIGKILLed. So Stripe charged, payments had
 * the answer, and nothing of it reached the database.
 */
function killBeforeTheSave(payments: Payments): Promise<void> {
  return new Promise((resolve, reject) => {
    stripe.failAnswers(stripeCalls.confirmIntent, {
      kind: 'hook',
      run: () => {
        const held = payments.dbProxy.holdNext((c) => c.name === 'update' && c.collection === 'payments');
        held.held.then(() => {
          payments.dbProxy.partition();
          payments.service.signal('SIGKILL');
          resolve();
        }, reject);
      },
    });
  });
}

describe('payments killed between Stripe answer and the save', () => {
  it('after a restart the reconciler records the charge and the order completes, charged once', async () => {
    const payments = await startPayments('payments_crash');
    const { buyer, order } = await orderOfNewTicket(payments);
    const crashed = killBeforeTheSave(payments);

    const answer = pay(payments.service, buyer, order.id, 'tok_visa').catch((err: unknown) => err);
    await crashed;
    const killedAt = Date.now();
    expect((await payments.service.exited).signal).toBe('SIGKILL');
    await answer; // cut off (or a 202 that made it out first): either way nothing was saved
    expect(await payments.database.db.collection('payments').findOne({ orderId: order.id })).toMatchObject({
      status: 'pending',
    });
    const [intent, ...others] = stripe.intentsFor(order.id);
    expect(others).toHaveLength(0);
    expect(intent!.status).toBe('succeeded');

    payments.dbProxy.restore();
    const again = await restart(payments);

    await eventually(async () => expect(await orderStatus(buyer, order.id)).toBe('complete'), {
      timeoutMs: SETTLE_MS,
      intervalMs: 250,
    });
    figure(`crash before the save: order complete ${Date.now() - killedAt} ms after the kill (defaults)`);
    expect(await payments.database.db.collection('payments').findOne({ orderId: order.id })).toMatchObject({
      status: 'succeeded',
      stripeId: intent!.id,
    });
    expect(stripe.intentsFor(order.id)).toHaveLength(1);
    // A retry now gets the recorded payment and charges nothing.
    expect((await pay(again, buyer, order.id, 'tok_mastercard')).status).toBe(400); // ORDER_COMPLETE
    expect(stripe.intentsFor(order.id)).toHaveLength(1);
  }, 180_000);

  it('refunds the charge when the order was cancelled while payments was down', async () => {
    const payments = await startPayments('payments_crash_cancelled');
    const { buyer, order } = await orderOfNewTicket(payments);
    const crashed = killBeforeTheSave(payments);

    const answer = pay(payments.service, buyer, order.id, 'tok_visa').catch((err: unknown) => err);
    await crashed;
    const killedAt = Date.now();
    await payments.service.exited;
    await answer;
    const cancel = await requestJson<OrderJson>(`${orders.url}/api/orders/${order.id}`, {
      method: 'PATCH',
      body: { status: 'cancelled' },
      cookie: buyer.cookie,
    });
    expect(cancel.status).toBe(200);

    payments.dbProxy.restore();
    await restart(payments);

    const [intent] = stripe.intentsFor(order.id);
    await eventually(
      async () =>
        expect(await payments.database.db.collection('payments').findOne({ orderId: order.id })).toMatchObject({
          status: 'refunded',
          stripeId: intent!.id,
        }),
      { timeoutMs: SETTLE_MS, intervalMs: 250 },
    );
    figure(`crash before the save, order cancelled: refunded ${Date.now() - killedAt} ms after the kill`);
    expect(stripe.refunds().map((r) => r.form.get('payment_intent'))).toContain(intent!.id);
    expect(await orderStatus(buyer, order.id)).toBe('cancelled');
  }, 180_000);
});

describe('payments killed before the PaymentIntent id was stored', () => {
  it('after a restart the reconciler finds the unconfirmed intent by its metadata, cancels it and frees the order', async () => {
    const payments = await startPayments('payments_crash_create');
    const { buyer, order } = await orderOfNewTicket(payments);
    // Stripe created the intent; payments dies before it hears so (before it could store the id).
    stripe.failAnswers(stripeCalls.createIntent, {
      kind: 'hook',
      run: () => payments.service.signal('SIGKILL'),
    });

    await pay(payments.service, buyer, order.id, 'tok_visa').catch((err: unknown) => err);
    await payments.service.exited;
    const killedAt = Date.now();
    const claim = await payments.database.db.collection('payments').findOne({ orderId: order.id });
    expect(claim).toMatchObject({ status: 'pending' });
    expect(claim?.['stripeId']).toBeUndefined();
    const [orphan] = stripe.intentsFor(order.id);
    expect(orphan!.status).toBe('requires_confirmation');

    const again = await restart(payments);

    await eventually(
      async () => expect(await payments.database.db.collection('payments').findOne({ orderId: order.id })).toBeNull(),
      { timeoutMs: SETTLE_MS, intervalMs: 250 },
    );
    figure(`crash before the intent id was stored: claim released ${Date.now() - killedAt} ms after the kill`);
    expect(stripe.requests.filter(stripeCalls.listIntents).length).toBeGreaterThan(0);
    expect(stripe.intentsFor(order.id).map((i) => i.status)).toEqual(['canceled']);
    // Nothing was charged, and the order can be paid.
    expect((await pay(again, buyer, order.id, 'tok_visa')).status).toBe(201);
    await eventually(async () => expect(await orderStatus(buyer, order.id)).toBe('complete'), {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
  }, 180_000);
});

describe('payments whose Stripe answer is lost', () => {
  it('answers 202, charges nothing on a retry with a new token, and completes the order once', async () => {
    const payments = await startPayments('payments_lost_answer');
    const { buyer, order } = await orderOfNewTicket(payments);
    // Every try of the Stripe client: a closed connection is retried, then once more
    // (STRIPE_MAX_NETWORK_RETRIES=2), all with the same idempotency key.
    stripe.failAnswers(stripeCalls.confirmIntent, { kind: 'drop' }, 3);

    const first = await pay(payments.service, buyer, order.id, 'tok_visa');
    const answeredAt = Date.now();
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ id: expect.any(String) as string, status: 'pending' });
    const retry = await pay(payments.service, buyer, order.id, 'tok_mastercard');
    expect([200, 202]).toContain(retry.status);
    expect(retry.body.id).toBe(first.body.id);

    await eventually(async () => expect(await orderStatus(buyer, order.id)).toBe('complete'), {
      timeoutMs: SETTLE_MS,
      intervalMs: 250,
    });
    figure(`lost answer: order complete ${Date.now() - answeredAt} ms after the 202 (defaults)`);
    expect(stripe.intentsFor(order.id).map((i) => i.status)).toEqual(['succeeded']);
    expect(stripe.confirmations()).toHaveLength(3);
    expect(await payments.database.db.collection('payments').find({ orderId: order.id }).toArray()).toEqual([
      expect.objectContaining({ status: 'succeeded' }),
    ]);
  }, 180_000);
});
