import { randomBytes } from 'node:crypto';
import pino from 'pino';
import {
  DEAD_LETTER_HEADERS,
  JetStreamBus,
  Listener,
  Subjects,
  jetStreamNames,
  listDeadLetters,
  replayDeadLetters,
  type Bus,
  type MessageContext,
  type OrderCancelledEvent,
} from '..';
import {
  connectTestBus,
  eventually,
  natsTestConfig,
  publishRawJetStream,
  testChannelPrefix,
  withJetStream,
} from '../testing';

/**
 * What only JetStream does: bounded redelivery into a dead-letter stream that says why, dedupe of a
 * republished event id, and the dead-letter commands (list, replay one or all to the consumer that
 * failed). Runs in the jest project "jetstream" only (*.jetstream.test.ts).
 */

const ORDER_ID = '64b7f0c2a1b2c3d4e5f60718';
const cancelled = (version: number): OrderCancelledEvent['data'] => ({
  id: ORDER_ID,
  version,
  ticket: { id: '64b7f0c2a1b2c3d4e5f60719' },
});

const logs: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });

class FlakyListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly deliveries: MessageContext[] = [];
  constructor(
    bus: Bus,
    readonly queueGroupName: string,
    private readonly fails: (delivery: number) => boolean,
  ) {
    super(bus, logger, { ackWaitMs: 1_000 });
  }
  async onMessage(_data: OrderCancelledEvent['data'], ctx: MessageContext): Promise<void> {
    this.deliveries.push(ctx);
    if (this.fails(this.deliveries.length)) throw new Error(`payment provider said no (try ${this.deliveries.length})`);
  }
}

const buses: Bus[] = [];

async function freshBus(maxDeliver = 3): Promise<JetStreamBus> {
  const prefix = `${testChannelPrefix()}${randomBytes(3).toString('hex')}.`;
  const bus = await connectTestBus('jetstream', { channelPrefix: prefix, maxDeliver, logger });
  buses.push(bus);
  if (!(bus instanceof JetStreamBus)) throw new Error('this file runs with EVENT_BUS=jetstream');
  return bus;
}

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
});

describe('JetStream bus', () => {
  it('names one stream per channel prefix, without the characters stream names refuse', () => {
    expect(jetStreamNames('').stream).toBe('TICKETING');
    const names = jetStreamNames('t1a2b.c3.');
    expect(names.stream).toMatch(/^TICKETING_t1a2b_c3_[0-9a-f]{6}$/);
    expect(names.deadLetterStream).toBe(`${names.stream}_DLQ`);
    expect(jetStreamNames('a.b').stream).not.toBe(jetStreamNames('a_b').stream);
    expect(names.durable('orders-service', Subjects.TicketCreated)).toBe('orders-service_ticket_created');
  });

  it('stores a republished event id once (Nats-Msg-Id dedupe), as after a lost publish ack', async () => {
    const bus = await freshBus();
    const first = await bus.publish(Subjects.OrderCancelled, cancelled(1), { id: 'event-dup' });
    const again = await bus.publish(Subjects.OrderCancelled, cancelled(1), { id: 'event-dup' });

    expect(again).toBe(first);
    const state = await withJetStream(
      natsTestConfig().url,
      async (jsm) => (await jsm.streams.info(bus.names.stream)).state,
    );
    expect(state.messages).toBe(1);
  });

  it('dead-letters a message after max_deliver failed deliveries, with the reason, and stops delivering it', async () => {
    const bus = await freshBus(3);
    const listener = new FlakyListener(bus, 'svc-dlq', () => true).listen();

    await bus.publish(Subjects.OrderCancelled, cancelled(1), { id: 'event-doomed' });

    const [letter] = await eventually(
      async () => {
        const letters = await listDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix });
        expect(letters).toHaveLength(1);
        return letters;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(listener.deliveries.map((d) => d.redelivered)).toEqual([false, true, true]);
    expect(letter).toMatchObject({
      subject: bus.channel(Subjects.OrderCancelled),
      consumer: 'svc-dlq_order_cancelled',
      deliveries: 3,
      originalSequence: 1,
      eventId: 'event-doomed',
      reason: 'Error: payment provider said no (try 3)',
    });
    // Terminated: no fourth delivery, nothing pending.
    await eventually(() =>
      withJetStream(natsTestConfig().url, async (jsm) => {
        const info = await jsm.consumers.info(bus.names.stream, 'svc-dlq_order_cancelled');
        expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
      }),
    );
    expect(listener.deliveries).toHaveLength(3);
  });

  it('dead-letters a poison message at once, saying why', async () => {
    const bus = await freshBus();
    new FlakyListener(bus, 'svc-poison', () => false).listen();

    await publishRawJetStream(natsTestConfig().url, bus.channel(Subjects.OrderCancelled), '{not json');

    const letters = await eventually(async () => {
      const found = await listDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix });
      expect(found).toHaveLength(1);
      return found;
    });
    expect(letters[0]).toMatchObject({ reason: 'not a JSON event envelope', deliveries: 1, data: '{not json' });
    // Terminated at once: nothing left unacked.
    await eventually(() =>
      withJetStream(natsTestConfig().url, async (jsm) => {
        const info = await jsm.consumers.info(bus.names.stream, 'svc-poison_order_cancelled');
        expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
      }),
    );
  });

  it('dead-letters a payload that breaks its contract at once, naming the subject and the field', async () => {
    const bus = await freshBus();
    const listener = new FlakyListener(bus, 'svc-shape', () => false).listen();
    const wrong = { ...cancelled(1), ticket: { id: 'not-an-object-id' } };

    await publishRawJetStream(
      natsTestConfig().url,
      bus.channel(Subjects.OrderCancelled),
      JSON.stringify({
        id: 'event-wrong-shape',
        subject: Subjects.OrderCancelled,
        time: new Date().toISOString(),
        data: wrong,
      }),
    );

    const letters = await eventually(async () => {
      const found = await listDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix });
      expect(found).toHaveLength(1);
      return found;
    });
    expect(letters[0]).toMatchObject({
      reason: "invalid order:cancelled payload: ticket.id: Expected string to match '^[a-fA-F0-9]{24}$'",
      deliveries: 1,
    });
    expect(listener.deliveries).toHaveLength(0);
  });

  it('replays a dead letter to the consumer that failed it only, and removes it from the dead letters', async () => {
    const bus = await freshBus(2);
    let healthy = false;
    const failing = new FlakyListener(bus, 'svc-replay', () => !healthy).listen();
    const other = new FlakyListener(bus, 'svc-other', () => false).listen();
    await bus.publish(Subjects.OrderCancelled, cancelled(7), { id: 'event-replayed' });
    await eventually(
      async () =>
        expect(await listDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix })).toHaveLength(1),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(other.deliveries).toHaveLength(1);

    healthy = true;
    const replayed = await replayDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix }, 'all');

    expect(replayed).toHaveLength(1);
    await eventually(() => expect(failing.deliveries.map((d) => d.eventId)).toEqual(Array(3).fill('event-replayed')));
    expect(await listDeadLetters({ url: natsTestConfig().url, channelPrefix: bus.names.prefix })).toEqual([]);
    // The other service had handled it: it does not get it again.
    expect(other.deliveries).toHaveLength(1);
    expect(DEAD_LETTER_HEADERS.reason).toBe('Ticketing-Dlq-Reason');
  });
});
