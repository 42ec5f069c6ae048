import { Subjects, type Bus } from '@ticketing/common';
import { EventProbe, connectTestBus, eventually } from '@ticketing/common/testing';
import type { ExpirationQueue } from '../queues/expiration-queue';
import { buildOrderCreated, expiringIn, listenForOrders, newId, publishOrderCreated, startExpiration } from './harness';

let bus: Bus;
let probe: EventProbe;
let expirations: ExpirationQueue;

beforeAll(async () => {
  bus = await connectTestBus('expiration');
  probe = new EventProbe(bus, [Subjects.ExpirationComplete]);
  expirations = await startExpiration(bus);
  listenForOrders(bus, expirations);
});

afterAll(async () => {
  await expirations.close();
  await bus.close();
});

const expiredIds = (): string[] => probe.of(Subjects.ExpirationComplete).map((e) => e.orderId);

/**
 * Proves that nothing more is coming for the orders under test: a sentinel order expiring after them
 * has fired, so any job they still had would have fired too (BullMQ runs due jobs in order).
 */
async function waitPastAllJobs(): Promise<void> {
  const sentinel = buildOrderCreated({ expiresAt: expiringIn(600) });
  await publishOrderCreated(bus, sentinel);
  await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === sentinel.id);
}

describe('order:created', () => {
  it('publishes expiration:complete for an order once its 2-second window is over', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(2_000) });

    await publishOrderCreated(bus, order);
    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === order.id, 10_000);

    // Not asserted (no timing assertions in tests): the figure goes in the report.
    const latenessMs = Date.now() - Date.parse(order.expiresAt);
    console.log(`expiration:complete observed ${latenessMs} ms after expiresAt (2 s window)`);
    expect(latenessMs).toBeGreaterThanOrEqual(0);
  });

  it('never fires before expiresAt', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(800) });

    await publishOrderCreated(bus, order);
    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === order.id);

    const event = probe.events.find(
      (e) => e.subject === Subjects.ExpirationComplete && (e.data as { orderId: string }).orderId === order.id,
    );
    expect(Date.parse(event!.time)).toBeGreaterThanOrEqual(Date.parse(order.expiresAt));
  });

  it('schedules one job for a duplicate order:created, and it fires once', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(400) });

    await publishOrderCreated(bus, order);
    await publishOrderCreated(bus, order);
    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === order.id);
    await waitPastAllJobs();

    expect(expiredIds().filter((id) => id === order.id)).toHaveLength(1);
  });

  it('fires at once for an order whose expiresAt has already passed', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(-60_000) });

    await publishOrderCreated(bus, order);

    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === order.id, 5_000);
  });

  it('keeps one job per order id when scheduled twice, with the first due time', async () => {
    const orderId = newId();
    const first = await expirations.schedule(orderId, new Date(Date.now() + 60_000));

    const second = await expirations.schedule(orderId, new Date(Date.now() + 120_000));

    expect(second.id).toBe(orderId);
    const stored = await expirations.queue.getJob(orderId);
    expect(stored?.timestamp).toBe(first.timestamp);
    expect(stored?.delay).toBe(first.delay);
    const jobs = await expirations.queue.getJobs(['delayed', 'waiting', 'active', 'completed']);
    expect(jobs.filter((job) => job.data.orderId === orderId)).toHaveLength(1);
    await expirations.cancel(orderId);
  });
});

describe('order:cancelled', () => {
  it('removes the job of an order that has not expired, so it never fires', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(30_000) });
    await publishOrderCreated(bus, order);
    await eventually(async () => expect(await expirations.queue.getJobState(order.id)).toBe('delayed'));

    await bus.publish(Subjects.OrderCancelled, { id: order.id, version: 1, ticket: order.ticket });

    // Gone from Redis: no worker (this one or one started later) can ever run it.
    await eventually(async () => expect(await expirations.queue.getJob(order.id)).toBeUndefined());
    expect(expiredIds()).not.toContain(order.id);
  });

  it('acknowledges a cancellation for an order it has no job for', async () => {
    await expect(expirations.cancel(newId())).resolves.toBe('absent');
  });

  it('leaves the record of a job that already fired', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(0) });
    await publishOrderCreated(bus, order);
    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === order.id);
    await eventually(async () => expect(await expirations.queue.getJobState(order.id)).toBe('completed'));

    await expect(expirations.cancel(order.id)).resolves.toBe('already-fired');

    // The kept record is what makes a later duplicate order:created schedule nothing.
    await publishOrderCreated(bus, order);
    await waitPastAllJobs();
    expect(expiredIds().filter((id) => id === order.id)).toHaveLength(1);
  });
});

describe('order:completed', () => {
  it('removes the job of a paid order, so it never fires', async () => {
    const order = buildOrderCreated({ expiresAt: expiringIn(30_000) });
    await publishOrderCreated(bus, order);
    await eventually(async () => expect(await expirations.queue.getJobState(order.id)).toBe('delayed'));

    await bus.publish(Subjects.OrderCompleted, { id: order.id, version: 1, ticket: order.ticket });

    await eventually(async () => expect(await expirations.queue.getJob(order.id)).toBeUndefined());
    expect(expiredIds()).not.toContain(order.id);
  });
});
