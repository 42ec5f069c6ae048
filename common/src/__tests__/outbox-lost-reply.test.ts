import mongoose, { Schema, type Model } from 'mongoose';
import {
  OUTBOX_CHECKPOINTS,
  OutboxRelay,
  Subjects,
  countUnpublished,
  outboxPlugin,
  stageEvent,
  versionPlugin,
  type Bus,
  type OutboxCheckpoint,
  type Versioned,
  type WithOutbox,
} from '..';
import { startTcpProxy, type HeldCommand, type TcpProxy } from '@ticketing/devinfra';
import { EventProbe, connectTestBus, eventually, silentLogger, testMongoUri } from '../testing';

/**
 * A save whose reply is lost: a TCP proxy in front of the database holds the write, cuts the
 * client's connection (the save fails with a network error: outcome unknown) and sends the write on
 * to the server only after the relay has looked for it and written its checkpoint. The write then
 * lands; its event must still be published.
 */

interface Gig extends Versioned, WithOutbox {
  title: string;
}

const gigSchema = new Schema<Gig, Model<Gig>>({ title: { type: String, required: true } }, { versionKey: false });
gigSchema.plugin(versionPlugin, { mode: 'owner' });
gigSchema.plugin(outboxPlugin);

let proxy: TcpProxy;
/** The relay's connection, through the proxy. */
let proxied: mongoose.Connection;
/** The test's own view of the database, not through the proxy. */
let direct: mongoose.Connection;
let Gigs: Model<Gig>;
let bus: Bus;
let probe: EventProbe;
let relay: OutboxRelay;

beforeAll(async () => {
  const uri = new URL(testMongoUri());
  proxy = await startTcpProxy({ host: uri.hostname, port: Number(uri.port) }, { mongo: true });
  direct = await mongoose.createConnection(uri.toString(), { serverSelectionTimeoutMS: 5_000 }).asPromise();
  uri.port = String(proxy.port);
  // No retried write: on a replica set the driver retries a write once after a network error; this
  // is the case where that retry failed too.
  proxied = await mongoose
    .createConnection(uri.toString(), { serverSelectionTimeoutMS: 5_000, retryWrites: false, directConnection: true })
    .asPromise();
  Gigs = proxied.model<Gig>('LostReplyGig', gigSchema);
  bus = await connectTestBus('outbox-lost-reply');
  probe = new EventProbe(bus, [Subjects.TicketCreated, Subjects.TicketUpdated]);
  relay = new OutboxRelay({
    bus,
    models: [Gigs],
    logger: silentLogger,
    retryIntervalMs: 100,
    idleIntervalMs: 200,
  });
  relay.start();
});

afterAll(async () => {
  await relay?.stop();
  await bus?.close();
  await proxied?.close();
  await direct?.dropDatabase();
  await direct?.close();
  await proxy?.close();
});

const dataOf = (gig: { _id: unknown; version: number }, title: string) => ({
  id: String(gig._id),
  version: gig.version,
  title,
  price: 10,
  userId: 'seller-1',
});

function checkpoint(): Promise<OutboxCheckpoint | null> {
  return direct.collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS).findOne({ _id: relay.instanceId });
}

/**
 * Commits with the next `command` on the gigs held by the proxy; resolves once the commit failed,
 * the relay read the gigs again afterwards and its checkpoint passed the entry's number: the moment
 * the code before the fix took the entry as never stored.
 */
async function commitWithLostReply(gig: mongoose.HydratedDocument<Gig>, command: string): Promise<HeldCommand> {
  const hold = proxy.holdNext((c) => c.name === command && c.collection === Gigs.collection.collectionName);
  await expect(relay.commit(gig)).rejects.toThrow();
  await hold.held;
  const seq = gig.outbox.at(-1)?.seq ?? Infinity;
  const heldAt = proxy.commands.length;
  await eventually(async () => {
    const readsSince = proxy.commands
      .slice(heldAt)
      .filter((c) => c.name === 'find' && c.collection === 'lostreplygigs');
    expect(readsSince.length).toBeGreaterThan(0);
    expect((await checkpoint())?.through).toBeGreaterThanOrEqual(seq);
  });
  return hold;
}

describe('outbox: a save whose reply is lost', () => {
  it('publishes the event of an insert that reaches the server after the relay looked for it', async () => {
    const gig = new Gigs({ title: 'late insert' });
    stageEvent(gig, Subjects.TicketCreated, dataOf(gig, 'late insert'));
    const hold = await commitWithLostReply(gig, 'insert');
    expect(relay.backlog()).toMatchObject({ pending: 1, unknownOutcome: 1, oldestPendingAt: expect.any(Date) });

    await hold.release(); // the insert lands now; its answer is dropped

    expect(await direct.collection('lostreplygigs').findOne({ _id: gig._id })).toMatchObject({ title: 'late insert' });
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    await eventually(async () => expect(await countUnpublished(direct, 'lostreplygigs', { _id: gig._id })).toBe(0));
    expect(relay.backlog()).toEqual({ pending: 0, unknownOutcome: 0, oldestPendingAt: undefined });
  });

  it('publishes the event of an update that reaches the server after the relay looked for it', async () => {
    const gig = new Gigs({ title: 'before' });
    stageEvent(gig, Subjects.TicketCreated, dataOf(gig, 'before'));
    await relay.commit(gig);
    await probe.waitFor(Subjects.TicketCreated, (d) => d.id === String(gig._id));
    gig.title = 'late update';
    stageEvent(gig, Subjects.TicketUpdated, { ...dataOf(gig, 'late update'), version: gig.version + 1 });
    const hold = await commitWithLostReply(gig, 'update');

    await hold.release();

    expect(await direct.collection('lostreplygigs').findOne({ _id: gig._id })).toMatchObject({ title: 'late update' });
    expect(await probe.waitFor(Subjects.TicketUpdated, (d) => d.id === String(gig._id))).toMatchObject({
      version: 1,
      title: 'late update',
    });
    await eventually(async () => expect(await countUnpublished(direct, 'lostreplygigs', { _id: gig._id })).toBe(0));
  });
});
