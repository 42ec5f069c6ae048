import { eventually, testMongoUri } from '@ticketing/common/testing';
import type { Stack } from '@ticketing/devinfra';
import { requestJson } from '../fault/support/http-client';
import { ensureBuilt, startServiceProcess, type ServiceProcess } from '../fault/support/service-process';
import {
  type Client,
  STACK_START_TIMEOUT_MS,
  orderWhenKnown,
  sellTicket,
  signUp,
  startE2eStack,
  type ApiResponse,
} from './harness';

/**
 * Signing out ends the session everywhere. Every service still verifies the JWT locally; auth
 * publishes session:revoked (through its outbox) and every service refuses the token's session id
 * from then on. A copy of the cookie taken before signout must be refused by every protected route
 * of every service within 1 s of the signout's answer, and by a service process that starts after
 * the signout (it rebuilds its list from the channel's history).
 */

let stack: Stack;
let fresh: ServiceProcess | undefined;

beforeAll(async () => {
  stack = await startE2eStack();
}, STACK_START_TIMEOUT_MS);

afterAll(async () => {
  await fresh?.stop();
  await stack?.stop();
}, 60_000);

type Probe = [string, (c: Client) => Promise<ApiResponse>];

describe('POST /api/users/signout', () => {
  it('makes every service refuse a copy of the cookie within 1 s, and a service started later too', async () => {
    const seller = await signUp(stack.baseUrl);
    const buyer = await signUp(stack.baseUrl);
    const mine = await sellTicket(seller, 12);
    const theirs = await sellTicket(buyer, 14);
    const order = await orderWhenKnown(seller, theirs.id);
    expect(order.status).toBe(201);
    const orderId = (order.body as { id: string }).id;

    // Every protected route, each with a request that the session may make.
    const probes: Probe[] = [
      ['auth GET /api/users/currentuser', (c) => c.get('/api/users/currentuser')],
      ['tickets POST /api/tickets', (c) => c.post('/api/tickets', { title: 'After signout', price: 5 })],
      ['tickets PUT /api/tickets/:id', (c) => c.put(`/api/tickets/${mine.id}`, { title: 'Edited', price: 13 })],
      ['orders GET /api/orders', (c) => c.get('/api/orders')],
      ['orders GET /api/orders/:id', (c) => c.get(`/api/orders/${orderId}`)],
      ['orders POST /api/orders', (c) => c.post('/api/orders', { ticketId: theirs.id })],
      ['orders PATCH /api/orders/:id', (c) => c.patch(`/api/orders/${orderId}`, { status: 'cancelled' })],
      ['payments POST /api/payments', (c) => c.post('/api/payments', { orderId, token: 'tok_visa' })],
    ];
    const refused = (name: string, res: ApiResponse): boolean =>
      name.startsWith('auth') ? JSON.stringify(res.body) === '{"currentUser":null}' : res.status === 401;

    // The copy works like the original before signout (an answer other than "not signed in").
    const copy = seller.copy();
    const before: Array<readonly [string, ApiResponse]> = [];
    for (const [name, probe] of probes) before.push([name, await probe(copy)]);
    expect(before.filter(([name, res]) => refused(name, res)).map(([name]) => name)).toEqual([]);

    const signout = await seller.post('/api/users/signout', {});
    const answeredAt = Date.now();
    expect(signout.status).toBe(200);
    expect(seller.hasSession()).toBe(false);

    // Within 1 s of the answer, every route refuses the copy (polled, so the time is measured).
    const refusedAfter = new Map<string, number>();
    await eventually(
      async () => {
        for (const [name, probe] of probes) {
          if (refusedAfter.has(name)) continue;
          if (refused(name, await probe(copy))) refusedAfter.set(name, Date.now() - answeredAt);
        }
        expect([...refusedAfter.keys()].sort()).toEqual(probes.map(([name]) => name).sort());
      },
      { timeoutMs: 1_000, intervalMs: 20 },
    );
    process.stderr.write(
      `[figure] copy refused after signout (ms): ${JSON.stringify(Object.fromEntries(refusedAfter))}\n`,
    );
    // The other user's sessions are untouched.
    expect((await buyer.get('/api/orders')).status).toBe(200);

    // A tickets process started after the signout rebuilds the list from the channel's history.
    const nats = stack.infra.find((i) => i.name === 'nats')?.url ?? '';
    await ensureBuilt(['tickets']);
    fresh = await startServiceProcess('tickets', {
      MONGO_URI: testMongoUri(),
      NATS_URL: nats,
      NATS_CLUSTER_ID: 'ticketing',
      JWT_KEY: stack.jwtKey,
    });
    const cookie = [copy.cookieHeader()];
    const late = await requestJson(`${fresh.url}/api/tickets`, {
      method: 'POST',
      body: { title: 'Late', price: 5 },
      cookie,
    });
    expect(late.status).toBe(401);
    // ...while a live session is accepted there.
    const live = await requestJson(`${fresh.url}/api/tickets`, {
      method: 'POST',
      body: { title: 'Live', price: 5 },
      cookie: [buyer.cookieHeader()],
    });
    expect(live.status).toBe(201);
  }, 120_000);
});
