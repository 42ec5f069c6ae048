import { eventually } from '@ticketing/common/testing';
import { parseMetrics, type MetricSample } from '../../common/src/metrics/parse';
import type { Stack } from '@ticketing/devinfra';
import {
  STACK_START_TIMEOUT_MS,
  errorCode,
  getOrder,
  getTicket,
  orderWhenKnown,
  sellTicket,
  signUp,
  startE2eStack,
  type OrderJson,
} from './harness';

/**
 * Expiry end to end: orders → order:created → expiration (a delayed BullMQ job in Redis) →
 * expiration:complete → orders cancels → order:cancelled → tickets releases the ticket. The window
 * is shortened to a few seconds through the same variable an operator would set.
 */

const WINDOW_SECONDS = 4;

let stack: Stack;

beforeAll(async () => {
  stack = await startE2eStack({ EXPIRATION_WINDOW_SECONDS: String(WINDOW_SECONDS) });
}, STACK_START_TIMEOUT_MS);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function expirationMetrics(): Promise<MetricSample[]> {
  const expiration = stack.services.find((s) => s.name === 'expiration');
  if (expiration === undefined) throw new Error('expiration is not running');
  return parseMetrics(await (await fetch(expiration.metricsUrl)).text());
}

describe('an order that is not paid in time', () => {
  it('is cancelled when its window ends, its ticket is released, and another buyer gets the ticket', async () => {
    const seller = await signUp(stack.baseUrl);
    const slowBuyer = await signUp(stack.baseUrl);
    const nextBuyer = await signUp(stack.baseUrl);
    const ticket = await sellTicket(seller, 30);

    const created = await orderWhenKnown(slowBuyer, ticket.id);
    expect(created.status).toBe(201);
    const order = created.body;
    const windowMs = new Date(order.expiresAt).getTime() - new Date().getTime();
    expect(windowMs).toBeLessThanOrEqual(WINDOW_SECONDS * 1000);

    // Held until the window ends.
    const meanwhile = await nextBuyer.post('/api/orders', { ticketId: ticket.id });
    expect(meanwhile.status).toBe(400);
    expect(errorCode(meanwhile)).toBe('TICKET_RESERVED');

    await eventually(async () => expect((await getOrder(slowBuyer, order.id)).status).toBe('cancelled'), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    // The operator's view of it: one expiration published, at or after the order's expiresAt (never
    // early), and no job left waiting. The worker records it once BullMQ marks the job completed,
    // which may come a moment after orders has cancelled the order.
    await eventually(async () => {
      const samples = await expirationMetrics();
      const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
        samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
      expect(value('expiration_lateness_seconds_count')).toBe(1);
      expect(value('expiration_lateness_seconds_sum')).toBeGreaterThanOrEqual(0);
      expect(value('expiration_queue_jobs', { state: 'delayed' })).toBe(0);
    });
    // Released: reserving (version 1) and releasing (version 2) are both changes of the ticket, so
    // version 2 without an orderId cannot be the state before the reservation arrived.
    await eventually(
      async () => {
        const released = await getTicket(seller, ticket.id);
        expect(released.version).toBe(2);
        expect(released).not.toHaveProperty('orderId');
      },
      { timeoutMs: 15_000 },
    );

    const second = await nextBuyer.post<OrderJson>('/api/orders', { ticketId: ticket.id });
    expect(second.status).toBe(201);
    await eventually(async () => expect((await getTicket(seller, ticket.id)).orderId).toBe(second.body.id), {
      timeoutMs: 15_000,
    });
  }, 60_000);
});
