/**
 * How late, after expiresAt, orders expire: `npx tsx bench/expiration-lateness.ts` (build common first:
 * `npm run build -w common`).
 *
 * Starts Redis and NATS Streaming (or uses REDIS_URL / NATS_URL when set), runs the expiration
 * service's own pieces (listeners, BullMQ queue and worker, publisher) and publishes order:created
 * for ORDERS orders whose windows end 1 to 3 s from now. For each order it records when
 * expiration:complete was published (the envelope's time, stamped by the worker just before it
 * publishes) and when a subscriber received it, and prints the median and max lateness of both.
 *
 * What sets the figure: the BullMQ worker waits for the next due job in a blocking Redis command
 * (BZPOPMIN) whose timeout Redis only checks on its internal tick, `hz` (10 per second by default).
 * So a job fires up to ~100 ms after it is due; a Redis started with `--hz 100` brings that to ~10 ms.
 */
import { randomBytes } from 'node:crypto';
import { OrderStatus, Subjects, makeClientId, type EventEnvelope, StanBus } from '@ticketing/common';
import { startNatsStreaming, startRedis } from '@ticketing/devinfra';
import { silentLogger } from '@ticketing/common/testing';
import { OrderCancelledListener } from '../expiration/src/events/listeners/order-cancelled-listener';
import { OrderCompletedListener } from '../expiration/src/events/listeners/order-completed-listener';
import { OrderCreatedListener } from '../expiration/src/events/listeners/order-created-listener';
import { ExpirationCompletePublisher } from '../expiration/src/events/publishers/expiration-complete-publisher';
import { ExpirationQueue } from '../expiration/src/queues/expiration-queue';

const ORDERS = Number(process.env['ORDERS'] ?? 20);
const MIN_WINDOW_MS = 1_000;
const MAX_WINDOW_MS = 3_000;

const newId = (): string => randomBytes(12).toString('hex');

function stats(values: number[]): { median: number; max: number; min: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, max: sorted[sorted.length - 1]!, min: sorted[0]! };
}

async function main(): Promise<void> {
  const [redis, nats] = await Promise.all([startRedis(), startNatsStreaming({ store: 'memory' })]);
  const run = randomBytes(4).toString('hex');
  const bus = new StanBus({
    url: nats.url,
    clusterId: nats.clusterId,
    clientId: makeClientId('bench-expiration'),
    logger: silentLogger,
    channelPrefix: `bench${run}.`,
  });
  await bus.connect();

  const publisher = new ExpirationCompletePublisher(bus);
  const expirations = new ExpirationQueue({
    redisUrl: redis.url,
    prefix: `bench${run}`,
    logger: silentLogger,
    onExpire: async ({ orderId }) => {
      await publisher.publish({ orderId });
    },
  });
  await expirations.waitUntilReady();
  await expirations.start();
  new OrderCreatedListener(bus, silentLogger, expirations).listen();
  new OrderCancelledListener(bus, silentLogger, expirations).listen();
  new OrderCompletedListener(bus, silentLogger, expirations).listen();

  const expiresAt = new Map<string, number>();
  const published = new Map<string, number>();
  const received = new Map<string, number>();
  let allIn: () => void = () => {};
  const done = new Promise<void>((resolve) => (allIn = resolve));
  bus.subscribe({ subject: Subjects.ExpirationComplete, ackWaitMs: 30_000, maxInFlight: 1024 }, (msg) => {
    const at = Date.now();
    msg.ack();
    const envelope = JSON.parse(msg.data) as EventEnvelope<Subjects.ExpirationComplete>;
    const { orderId } = envelope.data;
    if (!expiresAt.has(orderId) || received.has(orderId)) return;
    received.set(orderId, at);
    published.set(orderId, Date.parse(envelope.time));
    if (received.size === ORDERS) allIn();
  });

  for (let i = 0; i < ORDERS; i += 1) {
    const id = newId();
    const window = MIN_WINDOW_MS + Math.round(((MAX_WINDOW_MS - MIN_WINDOW_MS) * i) / Math.max(1, ORDERS - 1));
    const at = Date.now() + window;
    expiresAt.set(id, at);
    await bus.publish(Subjects.OrderCreated, {
      id,
      version: 0,
      status: OrderStatus.Created,
      userId: newId(),
      expiresAt: new Date(at).toISOString(),
      ticket: { id: newId(), price: 10 },
    });
  }

  const timeout = setTimeout(() => {
    process.stderr.write(`only ${received.size} of ${ORDERS} expirations arrived within 30 s\n`);
    allIn();
  }, 30_000);
  await done;
  clearTimeout(timeout);

  const ids = [...received.keys()];
  const publishLateness = ids.map((id) => published.get(id)! - expiresAt.get(id)!);
  const receiveLateness = ids.map((id) => received.get(id)! - expiresAt.get(id)!);
  const p = stats(publishLateness);
  const r = stats(receiveLateness);
  const early = publishLateness.filter((ms) => ms < 0).length;
  process.stdout.write(
    [
      `expiration lateness after expiresAt, ${ids.length} orders, windows ${MIN_WINDOW_MS}-${MAX_WINDOW_MS} ms`,
      `  published (worker):   median ${p.median} ms, max ${p.max} ms, min ${p.min} ms`,
      `  received (listener):  median ${r.median} ms, max ${r.max} ms, min ${r.min} ms`,
      `  fired before expiresAt: ${early}`,
      '',
    ].join('\n'),
  );

  await expirations.close();
  await bus.close();
  await Promise.all([redis.stop(), nats.stop()]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
