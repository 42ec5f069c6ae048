import { randomBytes } from 'node:crypto';
import nats from 'node-nats-streaming';
import {
  JetStreamBus,
  Listener,
  RetryLaterError,
  Subjects,
  currentRequestId,
  type Bus,
  type ListenerOptions,
  type MessageContext,
  type OrderCancelledEvent,
} from '..';
import {
  connectTestBus,
  consumersOf,
  eventually,
  natsTestConfig,
  publishRawJetStream,
  silentLogger,
  testChannelPrefix,
} from '../testing';

const ORDER_ID = '64b7f0c2a1b2c3d4e5f60718';
const TICKET_ID = '64b7f0c2a1b2c3d4e5f60719';
const cancelledData = (version: number): OrderCancelledEvent['data'] => ({
  id: ORDER_ID,
  version,
  ticket: { id: TICKET_ID },
});

type Behaviour = (data: OrderCancelledEvent['data'], delivery: number) => Promise<void> | void;

/** A listener that records every delivery it gets and does what the test tells it to. */
class RecordingListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly deliveries: Array<{ data: OrderCancelledEvent['data']; ctx: MessageContext; requestId?: string }> = [];

  constructor(
    bus: Bus,
    readonly queueGroupName: string,
    private readonly behaviour: Behaviour = () => {},
    // A long ack wait by default: on a loaded CI machine a 1 s wait can expire before a handled
    // message is acked, and the redelivery would break tests that count deliveries. Tests about
    // redelivery pass 1 s explicitly.
    opts: ListenerOptions = { ackWaitMs: 30_000 },
  ) {
    super(bus, silentLogger, opts);
  }

  async onMessage(data: OrderCancelledEvent['data'], ctx: MessageContext): Promise<void> {
    const requestId = currentRequestId();
    this.deliveries.push({ data, ctx, ...(requestId === undefined ? {} : { requestId }) });
    await this.behaviour(data, this.deliveries.length);
  }

  get versions(): number[] {
    return this.deliveries.map((d) => d.data.version);
  }

  /**
   * Versions of first deliveries only. The server may legitimately deliver a message again (a member
   * whose connection dropped under load leaves its unacked messages to the group), but it flags
   * those as redelivered: a second unflagged delivery would be a real duplicate.
   */
  get firstVersions(): number[] {
    return this.deliveries.filter((d) => !d.ctx.redelivered).map((d) => d.data.version);
  }
}

const buses: Bus[] = [];

/** Each test gets channels of its own, so no test sees another's messages or queue groups. */
async function freshChannels(): Promise<{ prefix: string; bus: () => Promise<Bus> }> {
  const prefix = `${testChannelPrefix()}${randomBytes(3).toString('hex')}.`;
  return {
    prefix,
    bus: async () => {
      const bus = await connectTestBus('listener', { channelPrefix: prefix });
      buses.push(bus);
      return bus;
    },
  };
}

interface SubscriptionStats {
  queue_name?: string;
  last_sent: number;
  pending_count: number;
  ack_wait: number;
}

/** NATS Streaming's view of a channel's subscriptions (monitoring endpoint). */
async function subscriptionsOf(bus: Bus): Promise<{ lastSeq: number; subs: SubscriptionStats[] } | undefined> {
  const monitorUrl = process.env['TEST_NATS_MONITOR_URL'] ?? '';
  if (monitorUrl === '') return undefined;
  const channel = encodeURIComponent(bus.channel(Subjects.OrderCancelled));
  const res = await fetch(`${monitorUrl}/streaming/channelsz?channel=${channel}&subs=1`);
  const body = (await res.json()) as { last_seq: number; subscriptions?: SubscriptionStats[] };
  return { lastSeq: body.last_seq, subs: body.subscriptions ?? [] };
}

/**
 * Waits until every message of the channel was delivered to every queue group (to one of its
 * members: a member's last_sent is the last message it got) and nothing is left unacked.
 */
async function allAcked(bus: Bus): Promise<void> {
  if (bus instanceof JetStreamBus) {
    // JetStream: every durable consumer of the subject has nothing left to deliver and nothing unacked.
    await eventually(async () => {
      const consumers = await consumersOf(natsTestConfig().url, bus.names.stream, bus.channel(Subjects.OrderCancelled));
      expect(consumers.length).toBeGreaterThan(0);
      for (const c of consumers) expect([c.name, c.num_pending, c.num_ack_pending]).toEqual([c.name, 0, 0]);
    });
    return;
  }
  await eventually(async () => {
    const stats = await subscriptionsOf(bus);
    if (stats === undefined) return;
    const lastSentByGroup = new Map<string, number>();
    for (const sub of stats.subs) {
      const group = sub.queue_name ?? '';
      lastSentByGroup.set(group, Math.max(lastSentByGroup.get(group) ?? 0, sub.last_sent));
      expect(sub.pending_count).toBe(0);
    }
    for (const lastSent of lastSentByGroup.values()) expect(lastSent).toBe(stats.lastSeq);
  });
}

/** Publishes raw bytes on a channel, bypassing Bus.publish's envelope (for poison messages). */
async function publishRaw(channel: string, payload: string): Promise<void> {
  const { transport, url, clusterId } = natsTestConfig();
  if (transport === 'jetstream') return publishRawJetStream(url, channel, payload);
  const stan = nats.connect(clusterId, `raw-${randomBytes(4).toString('hex')}`, { url });
  await new Promise<void>((resolve, reject) => {
    stan.on('connect', () => {
      stan.publish(channel, payload, (err) => {
        stan.close();
        if (err) reject(new Error(String(err)));
        else resolve();
      });
    });
    stan.on('error', reject);
  });
}

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
});

describe('Listener', () => {
  it('hands the validated payload to onMessage and acks it once onMessage resolves', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    const listener = new RecordingListener(bus, 'svc-a').listen();

    await bus.publish(Subjects.OrderCancelled, cancelledData(1), { requestId: 'req-listener-1' });

    await eventually(() => expect(listener.versions).toEqual([1]));
    expect(listener.deliveries[0]).toMatchObject({
      data: cancelledData(1),
      ctx: { redelivered: false, sequence: 1, requestId: 'req-listener-1', eventId: expect.any(String) },
      // The handler runs inside the event's request context, so its own logs and events carry it.
      requestId: 'req-listener-1',
    });
    await allAcked(bus);
  });

  it('leaves the message unacked when onMessage throws, and handles the redelivery', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    const listener = new RecordingListener(
      bus,
      'svc-a',
      (_data, delivery) => {
        if (delivery === 1) throw new Error('transient failure');
      },
      { ackWaitMs: 1_000 },
    ).listen();

    await bus.publish(Subjects.OrderCancelled, cancelledData(1));

    await eventually(() => expect(listener.deliveries.map((d) => d.ctx.redelivered)).toEqual([false, true]), {
      timeoutMs: 10_000,
    });
    expect(listener.deliveries[1]?.ctx.eventId).toBe(listener.deliveries[0]?.ctx.eventId);
    await allAcked(bus);
  });

  it('leaves an event from the future (RetryLaterError) for a later redelivery', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    let ready = false;
    const listener = new RecordingListener(
      bus,
      'svc-a',
      () => {
        if (!ready) {
          ready = true;
          throw new RetryLaterError('version 4 before version 3');
        }
      },
      { ackWaitMs: 1_000 },
    ).listen();

    await bus.publish(Subjects.OrderCancelled, cancelledData(4));

    await eventually(() => expect(listener.deliveries).toHaveLength(2), { timeoutMs: 10_000 });
    await allAcked(bus);
  });

  it('sets aside a message that can never be valid (bad JSON, wrong shape) without calling onMessage', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    const listener = new RecordingListener(bus, 'svc-a').listen();
    const channel = bus.channel(Subjects.OrderCancelled);

    await publishRaw(channel, '{not json');
    await publishRaw(channel, JSON.stringify({ id: 'e1', subject: Subjects.OrderCancelled, data: { id: 'x' } }));
    await bus.publish(Subjects.OrderCancelled, cancelledData(2));

    await eventually(() => expect(listener.versions).toEqual([2]));
    await allAcked(bus);
    expect(listener.deliveries).toHaveLength(1);
  });

  it('shares the messages of a queue group between its members: each is handled once', async () => {
    const channels = await freshChannels();
    const [busA, busB] = [await channels.bus(), await channels.bus()];
    const a = new RecordingListener(busA, 'svc-a').listen();
    const b = new RecordingListener(busB, 'svc-a').listen();

    for (let v = 1; v <= 10; v += 1) await busA.publish(Subjects.OrderCancelled, cancelledData(v));

    await eventually(() =>
      expect([...a.firstVersions, ...b.firstVersions].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    );
    await allAcked(busA);
    expect(a.firstVersions.length + b.firstVersions.length).toBe(10);
  });

  it('gives every queue group (every consuming service) its own copy of each message', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    const orders = new RecordingListener(bus, 'orders-service').listen();
    const payments = new RecordingListener(bus, 'payments-service').listen();

    await bus.publish(Subjects.OrderCancelled, cancelledData(1));

    await eventually(() => expect([orders.firstVersions, payments.firstVersions]).toEqual([[1], [1]]));
  });

  it('delivers everything already on the channel to a group that subscribes late (deliver all)', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    await bus.publish(Subjects.OrderCancelled, cancelledData(1));
    await bus.publish(Subjects.OrderCancelled, cancelledData(2));

    const late = new RecordingListener(bus, 'svc-late').listen();

    await eventually(() => expect(late.versions.sort()).toEqual([1, 2]));
  });

  it('resumes a durable group where it left off after its process restarts', async () => {
    const channels = await freshChannels();
    const first = await channels.bus();
    const before = new RecordingListener(first, 'svc-durable').listen();
    await first.publish(Subjects.OrderCancelled, cancelledData(1));
    await eventually(() => expect(before.versions).toEqual([1]));
    await allAcked(first);
    await first.close();

    const publisher = await channels.bus();
    await publisher.publish(Subjects.OrderCancelled, cancelledData(2));
    const after = new RecordingListener(await channels.bus(), 'svc-durable').listen();

    // Only what was published while the group was away: message 1 was acked, so it is not replayed.
    await eventually(() => expect(after.versions).toEqual([2]));
    await allAcked(publisher);
    expect(after.versions).toEqual([2]);
  });

  it('subscribes with its ack wait (1 s at least, the server minimum) and a durable queue name', async () => {
    const channels = await freshChannels();
    const bus = await channels.bus();
    new RecordingListener(bus, 'svc-ackwait', () => {}, { ackWaitMs: 2_000 }).listen();
    await bus.publish(Subjects.OrderCancelled, cancelledData(1));

    if (bus instanceof JetStreamBus) {
      // JetStream: one durable pull consumer per service and subject, with the listener's settings.
      const [consumer] = await eventually(async () => {
        const found = await consumersOf(natsTestConfig().url, bus.names.stream, bus.channel(Subjects.OrderCancelled));
        expect(found).toHaveLength(1);
        return found;
      });
      expect(consumer?.config).toMatchObject({
        durable_name: 'svc-ackwait_order_cancelled',
        ack_policy: 'explicit',
        deliver_policy: 'all',
        ack_wait: 2_000_000_000,
        max_ack_pending: 64,
        max_deliver: 10,
      });
      return;
    }
    const stats = await eventually(async () => {
      const s = await subscriptionsOf(bus);
      if (s !== undefined) expect(s.subs).toHaveLength(1);
      return s;
    });

    if (stats !== undefined)
      expect(stats.subs[0]).toMatchObject({ queue_name: 'svc-ackwait:svc-ackwait', ack_wait: 2 });
  });
});
