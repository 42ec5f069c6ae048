import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import nats, { type Stan } from 'node-nats-streaming';
import {
  JetStreamBus,
  Listener,
  makeClientId,
  StanBus,
  Subjects,
  type Bus,
  type BusOptions,
  type MessageContext,
  type OrderCancelledEvent,
} from '../../common/src';
import { AckPolicy, DeliverPolicy, connectNats, silentLogger } from '../../common/src/testing';
import { startNatsJetStream, startNatsStreaming } from '@ticketing/devinfra';
import { listenerLikeOptions } from './plain-stan';

/**
 * The two paths of the bus leg on each transport, wired to a server of its own (see
 * bus-transports.ts, which measures them): our Bus and Listener, and a plain subscription of the
 * same client library with the listener's options.
 */

const newId = (): string => randomBytes(12).toString('hex');
const ORDER_ID = newId();
const TICKET_ID = newId();
/** The version field carries the event's number, so each arrival says which event it is. */
const payload = (n: number): OrderCancelledEvent['data'] => ({ id: ORDER_ID, version: n, ticket: { id: TICKET_ID } });

const envelopeOf = (n: number): string =>
  JSON.stringify({
    id: randomBytes(16).toString('hex'),
    subject: Subjects.OrderCancelled,
    time: new Date().toISOString(),
    data: payload(n),
  });

export type Sink = (n: number, at: number) => void;
export const ignore: Sink = () => undefined;

/** One transport's two paths; each handler calls its sink, which the measurement sets. */
export interface Rig {
  server: string;
  publish: { bus(n: number): Promise<unknown>; plain(n: number): Promise<unknown> };
  sinks: { bus: Sink; plain: Sink };
  close(): Promise<void>;
}

export type PathName = 'bus' | 'plain';

class BenchListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = 'bench-service';

  constructor(
    bus: Bus,
    private readonly sinks: Rig['sinks'],
  ) {
    super(bus, silentLogger, { ackWaitMs: 5_000 });
  }

  async onMessage(data: OrderCancelledEvent['data'], _ctx: MessageContext): Promise<void> {
    this.sinks.bus(data.version, performance.now());
  }
}

/** Our bus on `server`, connected, with the listener whose handler calls the bus path's sink. */
async function benchBus(
  make: (opts: BusOptions) => Bus,
  server: { url: string; clusterId: string },
  run: string,
  sinks: Rig['sinks'],
): Promise<Bus> {
  const bus = make({
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId('bench-bus'),
    logger: silentLogger,
    channelPrefix: `bench${run}.`,
  });
  await bus.connect();
  new BenchListener(bus, sinks).listen();
  return bus;
}

/** A plain node-nats-streaming connection, resolved once connected. */
function connectStan(url: string, clusterId: string, clientId: string): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const stan = nats.connect(clusterId, clientId, { url });
    stan.once('connect', () => resolve(stan));
    stan.once('error', reject);
  });
}

/** NATS Streaming with a file store: the bus and a plain node-nats-streaming subscription. */
export async function stanRig(): Promise<Rig> {
  const server = await startNatsStreaming({ store: 'file' });
  const run = randomBytes(4).toString('hex');
  const sinks: Rig['sinks'] = { bus: ignore, plain: ignore };
  const bus = await benchBus((opts) => new StanBus(opts), server, run, sinks);

  const stan = await connectStan(server.url, server.clusterId, `bench-plain-${run}`);
  const channel = `bench${run}.plain`;
  const options = listenerLikeOptions(stan, 'bench-plain');
  const subscription = stan.subscribe(channel, 'bench-plain', options);
  subscription.on('message', (msg: nats.Message) => {
    const envelope = JSON.parse(String(msg.getData())) as { data: OrderCancelledEvent['data'] };
    sinks.plain(envelope.data.version, performance.now());
    msg.ack();
  });
  await new Promise((resolve) => subscription.once('ready', resolve));
  return {
    server: `nats-streaming-server, file store (${server.url})`,
    sinks,
    publish: {
      bus: (n) => bus.publish(Subjects.OrderCancelled, payload(n)),
      plain: (n) =>
        new Promise((resolve, reject) => {
          stan.publish(channel, envelopeOf(n), (err, guid) => (err ? reject(new Error(err.message)) : resolve(guid)));
        }),
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        stan.once('close', () => resolve());
        stan.close();
      });
      await bus.close();
      await server.stop();
    },
  };
}

/** JetStream with file storage: the bus and a plain nats.js durable pull consumer. */
export async function jetStreamRig(): Promise<Rig> {
  const server = await startNatsJetStream();
  const run = randomBytes(4).toString('hex');
  const sinks: Rig['sinks'] = { bus: ignore, plain: ignore };
  const bus = await benchBus((opts) => new JetStreamBus(opts), server, run, sinks);

  const nc = await connectNats({ servers: server.url });
  const jsm = await nc.jetstreamManager();
  const stream = `PLAIN_${run}`;
  const subject = `plain${run}.order:cancelled`;
  // File storage is the default, as for the bus's stream.
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
  const consumer = await js.consumers.get(stream, 'bench-plain');
  const messages = await consumer.consume({
    max_messages: 64,
    callback: (m) => {
      const envelope = JSON.parse(m.string()) as { data: OrderCancelledEvent['data'] };
      sinks.plain(envelope.data.version, performance.now());
      m.ack();
    },
  });
  return {
    server: `nats-server -js, file storage (${server.url})`,
    sinks,
    publish: {
      bus: (n) => bus.publish(Subjects.OrderCancelled, payload(n)),
      plain: (n) => js.publish(subject, envelopeOf(n), { msgID: randomBytes(8).toString('hex') }),
    },
    close: async () => {
      messages.stop();
      await nc.close();
      await bus.close();
      await server.stop();
    },
  };
}
