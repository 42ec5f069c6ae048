/**
 * Double booking under load: `npx tsx bench/order-contention.ts` (build common first:
 * `npm run build -w common`).
 *
 * Starts a Mongo-compatible server and NATS Streaming (or uses MONGO_URI / NATS_URL when set), runs
 * the orders app on a real port with its outbox relay, and sends ROUNDS rounds of REQUESTS concurrent
 * POST /api/orders for ONE ticket (each from a different buyer). Exactly one request per round must
 * get 201 and every other one 400 TICKET_RESERVED. Latencies are compared with a baseline measured in
 * the same run: the same number of concurrent orders, each for a different ticket (no contention).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { OutboxRelay, isMongoConnected, makeClientId, StanBus } from '@ticketing/common';
import { startMongo, startNatsStreaming } from '@ticketing/devinfra';
import { TEST_JWT_KEY, sessionCookie, silentLogger } from '@ticketing/common/testing';
import mongoose from 'mongoose';
import { buildApp } from '../orders/src/app';
import { Order } from '../orders/src/models/order';
import { RefundRequest } from '../orders/src/models/refund-request';
import { Ticket } from '../orders/src/models/ticket';

const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const REQUESTS = Number(process.env['REQUESTS'] ?? 50);

const newId = (): string => new mongoose.Types.ObjectId().toHexString();

interface Sample {
  status: number;
  code?: string;
  ms: number;
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function latency(samples: Sample[]): { p50: number; p95: number; p99: number; max: number } {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

async function newTicket(): Promise<string> {
  const ticket = await Ticket.create({ _id: newId(), title: 'Bench', priceCents: 2000, userId: newId(), version: 0 });
  return ticket.id as string;
}

async function order(baseUrl: string, ticketId: string): Promise<Sample> {
  const id = newId();
  const cookie = sessionCookie({ id, email: `${id}@bench.test` }, TEST_JWT_KEY).join('; ');
  const started = performance.now();
  const res = await fetch(`${baseUrl}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ ticketId }),
  });
  const body = (await res.json()) as { errors?: Array<{ code?: string }> };
  const code = body.errors?.[0]?.code;
  return { status: res.status, ms: performance.now() - started, ...(code === undefined ? {} : { code }) };
}

/** The report goes to stdout, written directly (no console.* outside tests: see eslint.config.mjs). */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const [mongo, nats] = await Promise.all([startMongo(), startNatsStreaming({ store: 'memory' })]);
  const run = randomBytes(4).toString('hex');
  await mongoose.connect(`${mongo.uri}/bench_orders_${run}`, { serverSelectionTimeoutMS: 5_000 });
  await Promise.all([Order.init(), Ticket.init(), RefundRequest.init()]);
  const bus = new StanBus({
    url: nats.url,
    clusterId: nats.clusterId,
    clientId: makeClientId('bench-orders'),
    logger: silentLogger,
    channelPrefix: `bench${run}.`,
  });
  await bus.connect();
  const relay = new OutboxRelay({ bus, models: [Order], logger: silentLogger });
  relay.start();
  const app = buildApp(
    { JWT_KEY: TEST_JWT_KEY, NODE_ENV: 'test', EXPIRATION_WINDOW_SECONDS: 900 },
    silentLogger,
    { mongo: () => isMongoConnected(), bus: () => bus.isConnected },
    relay,
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  try {
    // Warm-up: connections, JIT, the first index lookups.
    await Promise.all(Array.from({ length: 10 }, async () => order(baseUrl, await newTicket())));

    const contention: Sample[] = [];
    const baseline: Sample[] = [];
    const winnersPerRound: number[] = [];
    let unexpected = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const ticketId = await newTicket();
      const samples = await Promise.all(Array.from({ length: REQUESTS }, () => order(baseUrl, ticketId)));
      contention.push(...samples);
      winnersPerRound.push(samples.filter((s) => s.status === 201).length);
      unexpected += samples.filter(
        (s) => s.status !== 201 && !(s.status === 400 && s.code === 'TICKET_RESERVED'),
      ).length;
      const stored = await Order.countDocuments({ ticket: ticketId });
      if (stored !== 1) throw new Error(`round ${round}: ${stored} orders stored for one ticket`);

      const tickets = await Promise.all(Array.from({ length: REQUESTS }, () => newTicket()));
      baseline.push(...(await Promise.all(tickets.map((id) => order(baseUrl, id)))));
    }

    const created = contention.filter((s) => s.status === 201).length;
    const reserved = contention.filter((s) => s.status === 400).length;
    const c = latency(contention);
    const b = latency(baseline);
    print(
      `order contention: ${ROUNDS} rounds x ${REQUESTS} concurrent POST /api/orders for one ticket ` +
        `(${availableParallelism()} CPUs, Mongo at ${mongo.uri})`,
    );
    print(`  requests ${contention.length}, 201 ${created}, 400 TICKET_RESERVED ${reserved}, other ${unexpected}`);
    print(
      `  201s per round: ${winnersPerRound.join(' ')}  (exactly one each: ${winnersPerRound.every((n) => n === 1)})`,
    );
    print(`  latency one ticket  (ms): p50 ${c.p50}  p95 ${c.p95}  p99 ${c.p99}  max ${c.max}`);
    const winners = latency(contention.filter((s) => s.status === 201));
    print(`  latency of the 201s (ms): p50 ${winners.p50}  max ${winners.max}`);
    print(
      `  latency baseline    (ms): p50 ${b.p50}  p95 ${b.p95}  p99 ${b.p99}  max ${b.max}  (${REQUESTS} tickets, all 201: ${baseline.every((s) => s.status === 201)})`,
    );
    print(`  p99 ratio one ticket / baseline: ${(c.p99 / b.p99).toFixed(2)}`);
    if (created !== ROUNDS || unexpected > 0) process.exitCode = 1;
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await relay.stop();
    await bus.close();
    await mongoose.connection.dropDatabase();
    await mongoose.disconnect();
    await Promise.all([mongo.stop(), nats.stop()]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
