import { randomBytes } from 'node:crypto';
import { OrderStatus, Subjects, type Bus, type OrderCreatedEvent } from '@ticketing/common';
import { silentLogger, testRedisPrefix, testRedisUrl } from '@ticketing/common/testing';
import { OrderCancelledListener } from '../events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from '../events/listeners/order-completed-listener';
import { OrderCreatedListener } from '../events/listeners/order-created-listener';
import { ExpirationCompletePublisher } from '../events/publishers/expiration-complete-publisher';
import { ExpirationQueue, type ExpirationJobData } from '../queues/expiration-queue';

export const newId = (): string => randomBytes(12).toString('hex');

/** The expiration service as main.ts wires it, on this test file's Redis prefix and bus channels. */
export async function startExpiration(
  bus: Bus,
  opts: {
    retry?: { minDelayMs: number; maxDelayMs: number };
    onExpire?: (data: ExpirationJobData) => Promise<void>;
    /** false: only the queue (schedule and inspect), no worker running jobs. */
    worker?: boolean;
  } = {},
): Promise<ExpirationQueue> {
  const publisher = new ExpirationCompletePublisher(bus);
  const expirations = new ExpirationQueue({
    redisUrl: testRedisUrl(),
    prefix: testRedisPrefix(),
    logger: silentLogger,
    retry: opts.retry ?? { minDelayMs: 100, maxDelayMs: 400 },
    onExpire:
      opts.onExpire ??
      (async ({ orderId }) => {
        await publisher.publish({ orderId });
      }),
  });
  await expirations.waitUntilReady();
  if (opts.worker !== false) await expirations.start();
  return expirations;
}

export function listenForOrders(bus: Bus, expirations: ExpirationQueue): void {
  const opts = { ackWaitMs: 1_000 };
  new OrderCreatedListener(bus, silentLogger, expirations, opts).listen();
  new OrderCancelledListener(bus, silentLogger, expirations, opts).listen();
  new OrderCompletedListener(bus, silentLogger, expirations, opts).listen();
}

export function buildOrderCreated(overrides: Partial<OrderCreatedEvent['data']> = {}): OrderCreatedEvent['data'] {
  return {
    id: newId(),
    version: 0,
    status: OrderStatus.Created,
    userId: newId(),
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    ticket: { id: newId(), price: 19.99 },
    ...overrides,
  };
}

export function expiringIn(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

export async function publishOrderCreated(bus: Bus, data: OrderCreatedEvent['data']): Promise<void> {
  await bus.publish(Subjects.OrderCreated, data);
}
