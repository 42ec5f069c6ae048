import mongoose, { Schema, type HydratedDocument, type Model } from 'mongoose';
import {
  OUTBOX_CHECKPOINTS,
  OutboxRelay,
  Subjects,
  countUnpublished,
  makeClientId,
  outboxPlugin,
  requestContext,
  stageEvent,
  stripOutbox,
  versionPlugin,
  metricsRegistry,
  parseMetrics,
  type OutboxCheckpoint,
  type OutboxEntry,
  type Versioned,
  type WithOutbox,
  type Bus,
  createBus,
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

interface Seat extends Versioned, WithOutbox {
  code: string;
}
const seatSchema = new Schema<Seat, Model<Seat>>({ code: { type: String, required: true, unique: true } });
seatSchema.plugin(versionPlugin, { mode: 'owner' });
seatSchema.plugin(outboxPlugin);
const SeatModel = mongoose.model<Seat>('OutboxSeat', seatSchema);

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

/** Events of this gig that no relay vouches for as published (what a sweep would publish). */
function unpublishedOf(gig: GigDoc): Promise<number> {
  return countUnpublished(GigModel.db, GigModel.collection.collectionName, { _id: gig._id });
}

const publishedIds = (gig: GigDoc): string[] =>
  probe.events.filter((e) => (e.data as { id?: string }).id === String(gig._id)).map((e) => e.id);

/** The outbox gauges as a scrape of /metrics reads them. */
async function outboxGauges(): Promise<{ pending: number; oldestAgeSeconds: number }> {
  const samples = parseMetrics(await metricsRegistry.metrics());
  const value = (name: string): number => samples.find((s) => s.name === name)?.value ?? NaN;
  return { pending: value('outbox_pending_entries'), oldestAgeSeconds: value('outbox_oldest_pending_age_seconds') };
}

describe('outbox', () => {
  it('stores the change and its event in one save, publishes it, then checkpoints it as published', async () => {
    const gig = new GigModel({ title: 'one' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    await relay.commit(gig);

    expect(await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id))).toEqual(created(gig));
    await eventually(async () => expect(await unpublishedOf(gig)).toBe(0));
    // Marked by the relay's checkpoint, not by a write to the document: the entry stays, numbered.
    expect(await outboxOf(gig)).toEqual([
      expect.objectContaining({ subject: Subjects.TicketCreated, relay: relay.instanceId, seq: expect.any(Number) }),
    ]);
  });

  it("drops published entries in the document's next save, so it holds at most its last event", async () => {
    const gig = new GigModel({ title: 'first' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));
    await relay.commit(gig);
    gig.title = 'second';
    stageEvent(gig, Subjects.TicketUpdated, { ...created(gig, 'second'), version: gig.version + 1 });

    await relay.commit(gig);

    await probe.waitFor(Subjects.TicketUpdated, (d) => d.id === String(gig._id));
    expect((await outboxOf(gig))?.map((e) => e.subject)).toEqual([Subjects.TicketUpdated]);
    expect(probe.of(Subjects.TicketCreated).filter((d) => d.id === String(gig._id))).toHaveLength(1);
  });

  it('pulls published entries off their documents once the relay is idle, without publishing again', async () => {
    const tidy = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger, tidyIdleMs: 20 });
    tidy.start();
    const gig = new GigModel({ title: 'tidied' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    await tidy.commit(gig);

    await eventually(async () => expect(await outboxOf(gig)).toEqual([]));
    expect(await unpublishedOf(gig)).toBe(0);
    expect(publishedIds(gig)).toHaveLength(1);
    await tidy.stop();
  });

  it('tidies many documents of several models, a batch at a time, without touching anything else', async () => {
    const tidy = new OutboxRelay({ bus, models: [GigModel, SeatModel], logger: silentLogger, tidyIdleMs: 20 });
    tidy.start();
    // Several batches of gigs, and seats among them.
    const gigs = Array.from({ length: 35 }, (_, i) => new GigModel({ title: `batch ${i}` }));
    const seats = Array.from({ length: 5 }, () => new SeatModel({ code: String(new mongoose.Types.ObjectId()) }));
    for (const gig of gigs) stageEvent(gig, Subjects.TicketCreated, created(gig));
    for (const seat of seats) {
      const data = { id: String(seat._id), version: 0, title: 'seat', price: 10, userId: 'seller-1' };
      stageEvent(seat, Subjects.TicketCreated, data);
    }

    await Promise.all([...gigs, ...seats].map((doc) => tidy.commit(doc)));

    const left = (model: { collection: { collectionName: string } }, ids: mongoose.Types.ObjectId[]): Promise<number> =>
      mongoose.connection
        .collection(model.collection.collectionName)
        .countDocuments({ _id: { $in: ids }, 'outbox.0': { $exists: true } });
    await eventually(async () =>
      expect([
        await left(
          GigModel,
          gigs.map((g) => g._id),
        ),
        await left(
          SeatModel,
          seats.map((s) => s._id),
        ),
      ]).toEqual([0, 0]),
    );
    const stored = await GigModel.find({ _id: { $in: gigs.map((g) => g._id) } }).lean();
    expect(stored.map((g) => g.title).sort()).toEqual(gigs.map((g) => g.title).sort());
    for (const gig of gigs) expect(publishedIds(gig)).toHaveLength(1);
    await tidy.stop();
    await SeatModel.deleteMany({ _id: { $in: seats.map((s) => s._id) } }); // the next test counts seats
  });

  it('inserts the new documents of concurrent commits together, each with its own outcome', async () => {
    await SeatModel.init(); // the unique index on code
    const seats = ['A1', 'A2', 'A1', ''].map((code) => {
      const seat = new SeatModel({ code });
      const data = { id: String(seat._id), version: 0, title: `seat ${code}`, price: 10, userId: 'seller-1' };
      stageEvent(seat, Subjects.TicketCreated, data);
      return seat;
    });

    const outcomes = await Promise.allSettled(seats.map((seat) => relay.commit(seat)));

    expect(
      outcomes.map((o) => {
        if (o.status === 'fulfilled') return 'stored';
        const reason = o.reason as { code?: unknown; name?: string };
        return reason.code === 11000 ? 'duplicate key' : reason.name;
      }),
    ).toEqual(['stored', 'stored', 'duplicate key', 'ValidationError']);
    expect((await SeatModel.find().lean()).map((s) => s.code).sort()).toEqual(['A1', 'A2']);
    expect(seats.map((seat) => seat.isNew)).toEqual([false, false, true, true]);
    // Only what was stored is published.
    const stored = [String(seats[0]?._id), String(seats[1]?._id)];
    await eventually(() =>
      expect(
        probe
          .of(Subjects.TicketCreated)
          .map((d) => d.id)
          .filter((id) => seats.some((seat) => String(seat._id) === id))
          .sort(),
      ).toEqual(stored.sort()),
    );
  });

  it('publishes nothing again after a restart: a new relay trusts the stopped one’s checkpoint', async () => {
    const first = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger });
    const gig = new GigModel({ title: 'before restart' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));
    await first.commit(gig);
    await first.stop(); // writes its checkpoint on the way out
    const next = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger });

    const remaining = await next.sweep();

    expect(remaining).toBe(0);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    // A marker published after the sweep arrives after anything the sweep published (one channel).
    const marker = new GigModel({ title: 'marker' });
    stageEvent(marker, Subjects.TicketCreated, created(marker));
    await next.commit(marker);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(marker._id));
    expect(publishedIds(gig)).toHaveLength(1);
    await next.stop();
  });

  it('re-publishes entries past a crashed relay’s checkpoint, and only those', async () => {
    const gig = await GigModel.create({ title: 'crashed relay' });
    const entry = (id: string, seq: number) => ({
      id,
      subject: Subjects.TicketCreated,
      data: created(gig),
      createdAt: new Date(),
      relay: 'crashed-relay',
      seq,
    });
    // It had published up to seq 3 when it died; seq 4 was stored but never published.
    await GigModel.db
      .collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS)
      .insertOne({ _id: 'crashed-relay', through: 3, at: new Date() });
    await GigModel.updateOne(
      { _id: gig._id },
      { $push: { outbox: { $each: [entry('seq-3', 3), entry('seq-4', 4)] } } },
    );

    const remaining = await relay.sweep();

    expect(remaining).toBe(0);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    expect(publishedIds(gig)).toEqual(['seq-4']);
    // What nobody vouched for is pulled off the document once published; the rest stays.
    expect((await outboxOf(gig))?.map((e) => e.id)).toEqual(['seq-3']);
    expect(await unpublishedOf(gig)).toBe(0);
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
    await eventually(async () => expect(await unpublishedOf(gig)).toBe(0));
    expect(probe.of(Subjects.TicketCreated).filter((d) => d.id === String(gig._id))).toHaveLength(1);
  });

  it('keeps the event when the bus is down without failing the change, and publishes it on reconnect', async () => {
    const offline = createBus({
      ...natsTestConfig(),
      clientId: makeClientId('test-outbox-late'),
      logger: silentLogger,
      channelPrefix: testChannelPrefix(),
    });
    const lateRelay = new OutboxRelay({ bus: offline, models: [GigModel], logger: silentLogger });
    lateRelay.start();
    const gig = new GigModel({ title: 'while down' });
    stageEvent(gig, Subjects.TicketCreated, created(gig));

    const before = await outboxGauges();
    await lateRelay.commit(gig);
    const pending = await outboxOf(gig);
    // /metrics shows the stored, unpublished event, and its age growing.
    expect((await outboxGauges()).pending).toBe(before.pending + 1);
    await eventually(async () => expect((await outboxGauges()).oldestAgeSeconds).toBeGreaterThan(0));
    await offline.connect();

    expect(pending).toEqual([expect.objectContaining({ subject: Subjects.TicketCreated })]);
    // The relay publishes as soon as the bus reports 'connected', without waiting for its timer.
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    await eventually(async () => expect(await unpublishedOf(gig)).toBe(0));
    expect((await outboxGauges()).pending).toBe(before.pending);
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
    await eventually(async () => expect(await unpublishedOf(gig)).toBe(0));
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

  describe('checkpoints of relays that are gone', () => {
    const checkpointOf = (id: string) =>
      GigModel.db.collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS).findOne({ _id: id });

    it('removes the checkpoint of a stopped relay once no document holds its entries, publishing nothing twice', async () => {
      const stopped = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger });
      const gig = new GigModel({ title: 'stopped relay' });
      stageEvent(gig, Subjects.TicketCreated, created(gig));
      await stopped.commit(gig);
      await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
      await stopped.stop();
      expect(await checkpointOf(stopped.instanceId)).toMatchObject({ stoppedAt: expect.any(Date) });
      const live = new OutboxRelay({
        bus,
        models: [GigModel],
        logger: silentLogger,
        idleIntervalMs: 50,
        tidyIdleMs: 20,
      });

      live.start();

      await eventually(async () => expect(await checkpointOf(stopped.instanceId)).toBeNull());
      expect(await outboxOf(gig)).toEqual([]); // tidied first: nobody has to vouch for it any more
      expect(publishedIds(gig)).toHaveLength(1);
      await live.stop();
    });

    it('removes the checkpoint of a crashed relay (no heartbeat) after publishing what it left', async () => {
      // Never started, so it writes no heartbeat: once its commits are done it is as good as dead.
      const crashed = new OutboxRelay({ bus, models: [GigModel], logger: silentLogger });
      const published = new GigModel({ title: 'published before the crash' });
      stageEvent(published, Subjects.TicketCreated, created(published));
      await crashed.commit(published);
      await eventually(async () => expect(await checkpointOf(crashed.instanceId)).toMatchObject({ through: 1 }));
      // Stored by it but never published when it died (seq 2, past its checkpoint).
      const left = await GigModel.create({ title: 'left by the crash' });
      const leftEntry = { id: `left-${String(left._id)}`, subject: Subjects.TicketCreated, data: created(left) };
      await GigModel.updateOne(
        { _id: left._id },
        { $push: { outbox: { ...leftEntry, createdAt: new Date(), relay: crashed.instanceId, seq: 2 } } },
      );
      const live = new OutboxRelay({
        bus,
        models: [GigModel],
        logger: silentLogger,
        idleIntervalMs: 50,
        tidyIdleMs: 20,
        staleAfterMs: 300,
      });

      live.start();

      await eventually(async () => expect(await checkpointOf(crashed.instanceId)).toBeNull());
      expect(publishedIds(left)).toEqual([leftEntry.id]);
      expect(publishedIds(published)).toHaveLength(1);
      expect(await outboxOf(published)).toEqual([]);
      expect(await outboxOf(left)).toEqual([]);
      await live.stop();
    });
  });
});
