/**
 * How long a published event takes to reach a listener: `npx tsx bench/event-latency.ts` (build
 * common first: `npm run build -w common`).
 *
 * Starts its own server and measures, one event at a time, the time from the publish call to the
 * moment the handler runs, over two paths, on NATS Streaming and then on JetStream (EVENT_BUS=stan
 * or EVENT_BUS=jetstream runs one of them):
 *
 *   - ours: Bus.publish (envelope, awaits the server's ack) → Listener (durable queue group, manual
 *     ack, JSON parse, payload validation, request context) → onMessage;
 *   - baseline: a plain client of the same library (node-nats-streaming; nats for JetStream)
 *     publishing the same bytes and a plain subscription with the same options (durable queue
 *     group / durable pull consumer, manual ack) parsing them.
 *
 * Both paths use one connection for publishing and subscribing, run on the same server in the same
 * process, and are measured alternately so that drift (GC, CPU frequency) hits both alike. It prints
 * the median and p99 of SAMPLES events per path and their ratio (ours / baseline).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  Listener,
  Subjects,
  makeClientId,
  type MessageContext,
  type OrderCancelledEvent,
  type Bus,
  JetStreamBus,
  StanBus,
} from '@ticketing/common';
import { startNatsJetStream, startNatsStreaming } from '@ticketing/devinfra';
import { AckPolicy, DeliverPolicy, connectNats, silentLogger } from '@ticketing/common/testing';
import nats, { type Stan } from 'node-nats-streaming';

const SAMPLES = Number(process.env['SAMPLES'] ?? 100);
const WARMUP = Number(process.env['WARMUP'] ?? 30);

const newId = (): string => randomBytes(12).toString('hex');
const ORDER_ID = newId();
const TICKET_ID = newId();

/** The version field carries the sample number, so each arrival finds its own stopwatch. */
const payload = (n: number): OrderCancelledEvent['data'] => ({ id: ORDER_ID, version: n, ticket: { id: TICKET_ID } });

type Arrivals = Map<number, (at: number) => void>;

class BenchListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = 'bench-service';

  constructor(
    bus: Bus,
    private readonly arrivals: Arrivals,
  ) {
    super(bus, silentLogger, { ackWaitMs: 5_000 });
  }

  async onMessage(data: OrderCancelledEvent['data'], _ctx: MessageContext): Promise<void> {
    this.arrivals.get(data.version)?.(performance.now());
  }
}

function connectStan(url: string, clusterId: string, clientId: string): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const stan = nats.connect(clusterId, clientId, { url });
    stan.once('connect', () => resolve(stan));
    stan.once('error', reject);
  });
}

/** Publishes event n through `publish` and resolves with the milliseconds until it arrived. */
async function roundTrip(arrivals: Arrivals, n: number, publish: () => Promise<unknown>): Promise<number> {
  const arrived = new Promise<number>((resolve) => arrivals.set(n, resolve));
  const start = performance.now();
  await publish();
  const end = await arrived;
  arrivals.delete(n);
  return end - start;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(values: number[]): { median: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, p99: percentile(sorted, 99) };
}

/** The report goes to stdout, written directly (no console.* outside tests: see eslint.config.mjs). */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

interface PathFigures {
  transport: string;
  ours: { median: number; p99: number };
  baseline: { median: number; p99: number };
}

/** Alternates the two paths WARMUP + SAMPLES times and summarises each. */
async function measure(
  ourArrivals: Arrivals,
  baseArrivals: Arrivals,
  bus: Bus,
  publishPlain: (n: number) => Promise<unknown>,
): Promise<{ ours: { median: number; p99: number }; baseline: { median: number; p99: number } }> {
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let n = 1; n <= WARMUP + SAMPLES; n += 1) {
    const viaOurs = () => roundTrip(ourArrivals, n, () => bus.publish(Subjects.OrderCancelled, payload(n)));
    const viaPlain = () => roundTrip(baseArrivals, n, () => publishPlain(n));
    // Which path goes first alternates, so neither always runs on a just-woken event loop.
    let a: number;
    let b: number;
    if (n % 2 === 0) {
      a = await viaOurs();
      b = await viaPlain();
    } else {
      b = await viaPlain();
      a = await viaOurs();
    }
    if (n > WARMUP) {
      ours.push(a);
      baseline.push(b);
    }
  }
  return { ours: summary(ours), baseline: summary(baseline) };
}

function envelopeOf(n: number): string {
  return JSON.stringify({
    id: randomBytes(16).toString('hex'),
    subject: Subjects.OrderCancelled,
    time: new Date().toISOString(),
    data: payload(n),
  });
}

async function stanFigures(): Promise<PathFigures> {
  const server = await startNatsStreaming({ store: 'memory' });
  const run = randomBytes(4).toString('hex');

  // Ours.
  const bus = new StanBus({
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId('bench-latency'),
    logger: silentLogger,
    channelPrefix: `bench${run}.`,
  });
  await bus.connect();
  const ourArrivals: Arrivals = new Map();
  new BenchListener(bus, ourArrivals).listen();

  // Baseline: the same bytes on the wire, no Bus, no Listener.
  const stan = await connectStan(server.url, server.clusterId, `bench-plain-${run}`);
  const baseChannel = `bench${run}.plain`;
  const baseArrivals: Arrivals = new Map();
  const options = stan
    .subscriptionOptions()
    .setDeliverAllAvailable()
    .setManualAckMode(true)
    .setAckWait(5_000)
    .setMaxInFlight(64)
    .setDurableName('bench-plain');
  const subscription = stan.subscribe(baseChannel, 'bench-plain', options);
  subscription.on('message', (msg: nats.Message) => {
    const envelope = JSON.parse(String(msg.getData())) as { data: OrderCancelledEvent['data'] };
    baseArrivals.get(envelope.data.version)?.(performance.now());
    msg.ack();
  });
  await new Promise((resolve) => subscription.once('ready', resolve));
  const publishPlain = (n: number): Promise<string> =>
    new Promise((resolve, reject) => {
      stan.publish(baseChannel, envelopeOf(n), (err, guid) => (err ? reject(new Error(err.message)) : resolve(guid)));
    });

  const figures = await measure(ourArrivals, baseArrivals, bus, publishPlain);
  await new Promise<void>((resolve) => {
    stan.once('close', () => resolve());
    stan.close();
  });
  await bus.close();
  await server.stop();
  return { transport: `NATS Streaming (${server.url})`, ...figures };
}

async function jetStreamFigures(): Promise<PathFigures> {
  const server = await startNatsJetStream();
  const run = randomBytes(4).toString('hex');

  const bus = new JetStreamBus({
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId('bench-latency'),
    logger: silentLogger,
    channelPrefix: `bench${run}.`,
  });
  await bus.connect();
  const ourArrivals: Arrivals = new Map();
  new BenchListener(bus, ourArrivals).listen();

  // Baseline: the nats client alone, a stream and a durable pull consumer with the same settings.
  const nc = await connectNats({ servers: server.url });
  const jsm = await nc.jetstreamManager();
  const stream = `PLAIN_${run}`;
  const subject = `plain${run}.order:cancelled`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  await jsm.consumers.add(stream, {
    durable_name: 'bench-plain',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: 5_000 * 1_000_000,
    max_ack_pending: 64,
    filter_subject: subject,
  });
  const js = nc.jetstream();
  const baseArrivals: Arrivals = new Map();
  const consumer = await js.consumers.get(stream, 'bench-plain');
  const messages = await consumer.consume({
    max_messages: 64,
    callback: (m) => {
      const envelope = JSON.parse(m.string()) as { data: OrderCancelledEvent['data'] };
      baseArrivals.get(envelope.data.version)?.(performance.now());
      m.ack();
    },
  });
  const publishPlain = (n: number) => {
    const envelope = envelopeOf(n);
    return js.publish(subject, envelope, { msgID: randomBytes(8).toString('hex') });
  };

  const figures = await measure(ourArrivals, baseArrivals, bus, publishPlain);
  messages.stop();
  await nc.close();
  await bus.close();
  await server.stop();
  return { transport: `NATS JetStream (${server.url})`, ...figures };
}

async function main(): Promise<void> {
  const which = process.env['EVENT_BUS'];
  const results: PathFigures[] = [];
  if (which !== 'jetstream') results.push(await stanFigures());
  if (which !== 'stan') results.push(await jetStreamFigures());
  const ms = (v: number): string => `${v.toFixed(3)} ms`.padStart(10);
  print(
    `event latency, publish → handler, ${SAMPLES} events one at a time (after ${WARMUP} warm-up), Node ${process.version}`,
  );
  for (const { transport, ours: o, baseline: p } of results) {
    print(`\n${transport}`);
    print(`${''.padEnd(34)}${'median'.padStart(10)}${'p99'.padStart(10)}`);
    print(`${'Bus.publish → Listener.onMessage'.padEnd(34)}${ms(o.median)}${ms(o.p99)}`);
    print(`${'plain client publish → consumer'.padEnd(34)}${ms(p.median)}${ms(p.p99)}`);
    print(
      `${'ratio (ours / baseline)'.padEnd(34)}${`${(o.median / p.median).toFixed(2)}x`.padStart(10)}${`${(o.p99 / p.p99).toFixed(2)}x`.padStart(10)}`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
