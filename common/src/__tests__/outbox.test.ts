import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';
import {
  Bus,
  OutboxRelay,
  Subjects,
  makeClientId,
  outboxPlugin,
  requestContext,
  stageEvent,
  stripOutbox,
  versionPlugin,
  type OutboxEntry,
  type Versioned,
  type WithOutbox,
} from '..';
import {
  EventProbe,
  closeTestMongo,
  connectTestBus,
  connectTestMongo,
  eventually,
  natsTestConfig,
  silentLogger,
  testChannelPrefix,
} from '../testing';

interface Gig extends Versioned, WithOutbox {
  title: string;
}
type GigDoc = HydratedDocument<Gig>;

const gigSchema = new Schema<Gig, Model<Gig>>(
  { title: { type: String, required: true } },
  {
    versionKey: false,
    toJSON: {
      transform(_doc, ret: Record<string, unknown>) {
        stripOutbox(ret);
        return ret;
      },
    },
  },
);
gigSchema.plugin(versionPlugin, { mode: 'owner' });
gigSchema.plugin(outboxPlugin);
const GigModel = mongoose.model<Gig>('OutboxGig', gigSchema);

const created = (gig: GigDoc, title = gig.title) => ({
  id: String(gig._id),
  version: gig.version,
  title,
  price: 10,
  userId: 'seller-1',
});

let bus: Bus;
let probe: EventProbe;
let relay: OutboxRelay;

beforeAll(async () => {
  await connectTestMongo();
  bus = await connectTestBus('outbox');
  probe = new EventProbe(bus, [Subjects.TicketCreated, Subjects.TicketUpdated]);
  relay = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger, retryIntervalMs: 100 });
});

afterAll(async () => {
  await relay.stop();
  await bus.close();
  await closeTestMongo();
});

async function outboxOf(gig: GigDoc): Promise<OutboxEntry[] | undefined> {
  return (await GigModel.findById(gig._id).lean())?.outbox;
}

describe('outbox', () => {
  it('stores the change and its event in one save, publishes it, then removes it from the document', async () => {
    const gig = new GigModel({ title: 'one' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    await relay.commit(gig);

    expect(await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id))).toEqual(created(gig));
    expect(await outboxOf(gig)).toEqual([]);
  });

  it('publishes several staged events of one document in the order they were staged', async () => {
    const gig = new GigModel({ title: 'ordered' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));
    await relay.commit(gig);
    for (const title of ['v1', 'v2', 'v3']) {
      gig.title = title;
      stageEvent(gig, Subjects.TicketUpdated, { ...created(gig, title), version: gig.version + 1 });
      await gig.save(); // stored, not yet published
    }

    await relay.flush(GigModel, gig._id);

    await eventually(() =>
      expect(
        probe
          .of(Subjects.TicketUpdated)
          .filter((d) => d.id === String(gig._id))
          .map((d) => [d.version, d.title]),
      ).toEqual([
        [1, 'v1'],
        [2, 'v2'],
        [3, 'v3'],
      ]),
    );
    expect(await outboxOf(gig)).toEqual([]);
  });

  it('keeps the event when the bus is down without failing the change, and publishes it on reconnect', async () => {
    const offline = new Bus({
      ...natsTestConfig(),
      clientId: makeClientId('test-outbox-late'),
      logger: silentLogger,
      channelPrefix: testChannelPrefix(),
    });
    const lateRelay = new OutboxRelay({ bus: offline, models: [GigModel], logger: silentLogger });
    lateRelay.start();
    const gig = new GigModel({ title: 'while down' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    await lateRelay.commit(gig);
    const pending = await outboxOf(gig);
    await offline.connect();

    expect(pending).toEqual([expect.objectContaining({ subject: Subjects.TicketCreated })]);
    // The relay publishes as soon as the bus reports 'connected', without waiting for its timer.
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    await eventually(async () => expect(await outboxOf(gig)).toEqual([]));
    await lateRelay.stop();
    await offline.close();
  });

  it('re-publishes an entry left behind by a crash with its original event id and time (sweep)', async () => {
    const gig = await GigModel.create({ title: 'crashed' });
    const createdAt = new Date('2030-05-01T10:00:00.000Z');
    await GigModel.updateOne(
      { _id: gig._id },
      {
        $push: {
          outbox: {
            id: 'left-behind-1',
            subject: Subjects.TicketCreated,
            data: created(gig),
            requestId: 'req-crash',
            createdAt,
          },
        },
      },
    );

    const remaining = await relay.sweep();

    expect(remaining).toBe(0);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    expect(probe.events.find((e) => e.id === 'left-behind-1')).toMatchObject({
      time: createdAt.toISOString(),
      requestId: 'req-crash',
    });
    expect(await outboxOf(gig)).toEqual([]);
  });

  it('records the request id of the request that staged the event', async () => {
    const gig = new GigModel({ title: 'traced' });
    requestContext.run({ requestId: 'req-staged' }, () => stageEvent(gig, Subjects.TicketCreated, created(gig)));

    await relay.commit(gig);

    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    const envelope = probe.events.find((e) => (e.data as { id?: string }).id === String(gig._id));
    expect(envelope?.requestId).toBe('req-staged');
    // Removed by the commit itself (the saved entry, request id included, matched the stored one).
    expect(await outboxOf(gig)).toEqual([]);
  });

  it('hides the outbox from JSON (stripOutbox)', async () => {
    const gig = new GigModel({ title: 'json' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    expect(gig.toJSON()).not.toHaveProperty('outbox');
  });

  it('does not save a stale copy, so its event is never published (version conflict)', async () => {
    const gig = await GigModel.create({ title: 'base' });
    const stale = await GigModel.findById(gig._id).orFail();
    gig.title = 'winner';
    await gig.save();

    stale.title = 'loser';
    stageEvent(stale, Subjects.TicketUpdated, { ...created(stale, 'loser'), version: 1 });

    await expect(relay.commit(stale)).rejects.toThrow(/changed by someone else/);
    expect(await GigModel.findById(gig._id).lean()).toMatchObject({ title: 'winner', outbox: [] });
    expect(probe.of(Subjects.TicketUpdated).filter((d) => d.id === String(gig._id))).toEqual([]);
  });
});
