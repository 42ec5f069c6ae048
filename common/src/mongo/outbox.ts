import { randomUUID } from 'node:crypto';
import mongoose, { Schema, type Model } from 'mongoose';
import type { Logger } from 'pino';
import type { Bus } from '../events/bus';
import type { EventData } from '../events/events';
import type { Subjects } from '../events/subjects';
import { VersionConflictError } from '../errors';
import { currentRequestId } from '../log';
import { insertGrouped } from './group-insert';
import { runExclusive } from './run-exclusive';

/**
 * Transactional outbox inside the document itself. A change and the event that describes it are
 * written by the same single-document save (atomic on every MongoDB-compatible server, no
 * multi-document transaction needed). The relay then publishes pending entries in order and marks
 * them published; whatever a crash or a bus outage leaves behind is published by the next sweep.
 * Delivery is therefore at least once, which every listener already tolerates.
 *
 * Marking is amortised. The relay numbers the entries it commits (its instance id + a sequence) and
 * records, in one small checkpoint document per relay, the sequence up to which all of them are
 * published: one write per ~100 ms instead of one update per event (an update is the most
 * expensive single statement on FerretDB, more than the insert of the change itself). A published
 * entry stays on its document until the document's next save drops it for free, so a document
 * holds at most its last event. Entries nobody vouches for (no relay id, or past their relay's
 * checkpoint after a crash) are published by a sweep and then pulled off the document as before.
 * See docs/events.md, "The outbox".
 */
export interface OutboxEntry {
  id: string;
  subject: Subjects;
  data: unknown;
  requestId?: string;
  createdAt: Date;
  /** The relay instance that committed the entry and its sequence number there. */
  relay?: string;
  seq?: number;
}

export interface WithOutbox {
  outbox: OutboxEntry[];
}

/** Generic for the same reason as versionPlugin: it must fit typed schemas. */
export function outboxPlugin<DocType, TModel>(typedSchema: Schema<DocType, TModel>): void {
  const schema = typedSchema as unknown as Schema;
  // Plain values, not subdocuments: the entries are written only by this module (stageEvent and the
  // relay), never from user input, and always replaced as a whole list. A subdocument array made
  // Mongoose build, cast, validate and track every entry: about a third of a commit's CPU.
  schema.add({ outbox: { type: [Schema.Types.Mixed], default: [] } });
}

/** Hides the outbox from API responses (services call this from their toJSON transform). */
export function stripOutbox(ret: Record<string, unknown>): void {
  delete ret['outbox'];
}

interface OutboxDocument {
  _id: mongoose.Types.ObjectId;
  outbox: OutboxEntry[];
}

/** Queues an event on the document; it is stored by the document's next save. */
export function stageEvent<S extends Subjects>(doc: OutboxDocument, subject: S, data: EventData<S>): void {
  const requestId = currentRequestId();
  doc.outbox.push({
    id: randomUUID(),
    subject,
    // Plain JSON: what is stored is exactly what will be published.
    data: JSON.parse(JSON.stringify(data)) as unknown,
    ...(requestId === undefined ? {} : { requestId }),
    createdAt: new Date(),
  });
}

// The relay works with several models of different document types; it only touches `outbox`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous list of models
type AnyModel = Model<any>;

/** The collection (in each service's database) holding one checkpoint per relay instance. */
export const OUTBOX_CHECKPOINTS = 'outbox_checkpoints';

/** A relay instance's progress: every entry it committed with seq <= through has been published. */
export interface OutboxCheckpoint {
  _id: string;
  through: number;
  at: Date;
}

/** Checkpoint writes are coalesced over this long (a crash in between costs re-publishes, no loss). */
const CHECKPOINT_DELAY_MS = 100;

/** Published entries remembered for tidying, at most (beyond, they wait for the next save or sweep). */
const TIDY_BACKLOG_MAX = 50_000;

/** Whether `entry` is vouched for as published by the checkpoints (relay id → through). */
function coveredBy(checkpoints: ReadonlyMap<string, number>, entry: OutboxEntry): boolean {
  if (entry.relay === undefined || entry.seq === undefined) return false;
  const through = checkpoints.get(entry.relay);
  return through !== undefined && entry.seq <= through;
}

/** A service's database: a mongoose connection or the driver's handle (tests, the bench). */
export type OutboxDatabase = mongoose.Connection | mongoose.mongo.Db;

function nativeDb(source: OutboxDatabase): mongoose.mongo.Db {
  if (!(source instanceof mongoose.Connection)) return source;
  if (source.db === undefined) throw new Error('the database is not connected');
  return source.db;
}

async function readCheckpoints(source: OutboxDatabase): Promise<Map<string, number>> {
  const rows = await nativeDb(source).collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS).find({}).toArray();
  return new Map(rows.map((row) => [row._id, row.through]));
}

/**
 * How many events stored in `collection` are not known to be published: what a relay would still
 * publish. Tests, the bench and operators use it instead of counting non-empty outboxes, since a
 * published entry may stay on its document until the document's next save.
 */
export async function countUnpublished(
  source: OutboxDatabase,
  collection: string,
  filter: mongoose.mongo.Filter<OutboxDocument> = {},
): Promise<number> {
  const checkpoints = await readCheckpoints(source);
  const docs = await nativeDb(source)
    .collection<OutboxDocument>(collection)
    .find({ ...filter, 'outbox.0': { $exists: true } }, { projection: { outbox: 1 } })
    .toArray();
  let count = 0;
  for (const doc of docs) for (const entry of doc.outbox) if (!coveredBy(checkpoints, entry)) count += 1;
  return count;
}

/**
 * Removes exactly this entry from the document. $pull of the whole stored value (as read, so it
 * compares equal) does nothing if another relay removed it first and never touches a newer entry.
 * The filter is the bare _id on purpose: FerretDB scans the whole collection for any filter with
 * more than _id in it, while a conditional $pull is not supported there at all. The driver's
 * collection, not the model: mongoose would re-cast the entry.
 */
async function pullEntry(model: AnyModel, id: unknown, entry: OutboxEntry): Promise<void> {
  const pull: mongoose.mongo.UpdateFilter<OutboxDocument> = { $pull: { outbox: entry } };
  const collection = model.collection as unknown as mongoose.mongo.Collection<OutboxDocument>;
  await collection.updateOne({ _id: id as mongoose.Types.ObjectId }, pull);
}

/** Errors of a save that prove nothing was written (so its entries never existed). */
function wroteNothing(err: unknown): boolean {
  if (err instanceof mongoose.Error.ValidationError || err instanceof VersionConflictError) return true;
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

export interface OutboxRelayOptions {
  bus: Bus;
  models: AnyModel[];
  logger: Logger;
  /** Safety-net sweep for entries whose immediate publish failed (default 1 s while dirty, 30 s idle). */
  retryIntervalMs?: number;
  idleIntervalMs?: number;
  /** Published entries are pulled off their documents once no commit has run for this long (250 ms). */
  tidyIdleMs?: number;
}

export class OutboxRelay {
  /** This relay's id in entries and in its checkpoint; new for every instance (every process start). */
  readonly instanceId = randomUUID();
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private dirty = true;
  private stopped = true;
  private readonly log: Logger;
  /** The last sequence number given to an entry. */
  private seq = 0;
  /** Sequence numbers committed (or being committed) and not yet published or known absent. */
  private readonly unconfirmed = new Set<number>();
  /** Entries whose save failed without proof that nothing was written: checked by the next tick. */
  private toVerify: Array<{ model: AnyModel; id: unknown; seqs: number[] }> = [];
  /** Other relays' checkpoints as last read (sweeps refresh them); this relay's own is `through()`. */
  private others = new Map<string, number>();
  private persistedThrough = 0;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointChain: Promise<void> = Promise.resolve();
  /** Published entries still on their documents, by document: pulled off while the relay is idle. */
  private readonly tidyQueue = new Map<string, { model: AnyModel; id: unknown; entries: OutboxEntry[] }>();
  private tidyTimer: NodeJS.Timeout | undefined;
  private tidying = false;
  private committing = 0;
  private lastCommitAt = 0;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.log = opts.logger.child({ component: 'outbox' });
    // When the bus comes back, publish what piled up without waiting for the timer.
    opts.bus.on('connected', () => {
      this.dirty = true;
      this.schedule(0);
    });
  }

  /** Every entry this relay committed with seq <= through() has been published (or was never stored). */
  private through(): number {
    let lowest = Infinity;
    for (const seq of this.unconfirmed) lowest = Math.min(lowest, seq);
    return lowest === Infinity ? this.seq : lowest - 1;
  }

  private isPublished(entry: OutboxEntry): boolean {
    if (entry.relay === this.instanceId && entry.seq !== undefined) {
      return entry.seq <= this.seq && !this.unconfirmed.has(entry.seq);
    }
    return coveredBy(this.others, entry);
  }

  /** Publishes the pending events of one document, in order. Resolves true when none are left. */
  flush(model: AnyModel, id: unknown): Promise<boolean> {
    return this.exclusive(model, id, () => this.flushNow(model, id));
  }

  /**
   * Saves the document (change and staged events in one write) and publishes at once. Resolves
   * once the save is done, as soon as the events are safe in the database: the publish goes on in
   * the background (stop() waits for it), so a request does not also wait for the bus's ack, and a
   * failed publish is the relay's to retry, not the caller's error. The save also drops the entries
   * already published, so a document carries at most its last event. Within this process the
   * save, the publish of its events and the relay's own writes to the document (pulling entries
   * published by a sweep) never overlap with another commit of the same document, so its events
   * leave in order; on FerretDB an update rewrites the whole document, so an overlapping write
   * could also undo the save.
   */
  async commit(doc: mongoose.Document & OutboxDocument): Promise<void> {
    const model = doc.constructor as AnyModel;
    this.committing += 1;
    this.lastCommitAt = Date.now();
    try {
      let onSaved = (): void => undefined;
      const saved = new Promise<void>((resolve) => (onSaved = resolve));
      // Rejects if the save fails (then nothing was published); the publish itself never throws.
      const done = this.exclusive(model, doc._id, () => this.commitNow(model, doc, onSaved));
      await Promise.race([saved, done]);
    } finally {
      this.committing -= 1;
      this.lastCommitAt = Date.now();
    }
  }

  private async commitNow(
    model: AnyModel,
    doc: mongoose.Document & OutboxDocument,
    onSaved: () => void,
  ): Promise<void> {
    const numbered: number[] = [];
    /** The entry with this relay's id and next sequence number (entries already numbered as they are). */
    const number = (entry: OutboxEntry): OutboxEntry => {
      if (entry.relay !== undefined) return entry;
      this.seq += 1;
      this.unconfirmed.add(this.seq);
      numbered.push(this.seq);
      return { ...entry, relay: this.instanceId, seq: this.seq };
    };
    let entries: OutboxEntry[];
    if (doc.isNew) {
      // Every entry is new and unsaved: number them in place (the insert stores them as they are now).
      doc.outbox.forEach((entry, i) => (doc.outbox[i] = number(entry)));
      // A copy: the publish below runs after commit() returned, when the caller may stage more.
      entries = Array.from(doc.outbox);
    } else {
      // Rewrite the list as new plain values (never edited in place: Mongoose would see no change):
      // drop what is published, number what is new. One $set of the array.
      const all = Array.from(doc.get('outbox') as OutboxEntry[]);
      entries = all.filter((entry) => !this.isPublished(entry)).map(number);
      if (numbered.length > 0 || entries.length !== all.length) {
        doc.set('outbox', entries);
        doc.markModified('outbox');
      }
      // This save removes the published entries itself: nothing left to tidy on this document.
      if (entries.length !== all.length) this.tidyQueue.delete(this.keyOf(model, doc._id));
    }
    try {
      // New documents of concurrent requests share one insert (group commit, see insertGrouped).
      if (doc.isNew) await insertGrouped(doc);
      else await doc.save();
    } catch (err) {
      if (wroteNothing(err)) this.settle(numbered);
      else if (numbered.length > 0) this.verifyLater(model, doc._id, numbered);
      throw err;
    }
    onSaved();
    // What was just saved is the document's outbox as stored: publish it without reading it back
    // (one read less per change on the hot path; the sweep re-reads whatever this misses).
    await this.flushNow(model, doc._id, entries);
  }

  private keyOf(model: AnyModel, id: unknown): string {
    return `outbox:${model.modelName}:${String(id)}`;
  }

  private exclusive<T>(model: AnyModel, id: unknown, task: () => Promise<T>): Promise<T> {
    const run = runExclusive(this.keyOf(model, id), task);
    this.pending.add(run);
    void run.then(
      () => this.pending.delete(run),
      () => this.pending.delete(run),
    );
    return run;
  }

  /** These sequence numbers are published or were never stored: the checkpoint may move past them. */
  private settle(seqs: number[]): void {
    if (seqs.length === 0) return;
    for (const seq of seqs) this.unconfirmed.delete(seq);
    this.scheduleCheckpoint();
  }

  private verifyLater(model: AnyModel, id: unknown, seqs: number[]): void {
    this.toVerify.push({ model, id, seqs });
    this.dirty = true;
    this.schedule(this.opts.retryIntervalMs ?? 1_000);
  }

  private retryLater(): void {
    this.dirty = true;
    this.schedule(this.opts.retryIntervalMs ?? 1_000);
  }

  private async flushNow(model: AnyModel, id: unknown, known?: OutboxEntry[]): Promise<boolean> {
    const doc =
      known === undefined
        ? await model
            .findById(id)
            .select({ outbox: 1 })
            .lean<OutboxDocument>()
            .catch((err: unknown) => {
              this.log.warn({ err }, 'outbox read failed');
              return undefined;
            })
        : { _id: id as mongoose.Types.ObjectId, outbox: known };
    if (doc === undefined) return false;
    if (doc === null) return true;
    for (const entry of doc.outbox) {
      if (this.isPublished(entry)) continue;
      try {
        await this.opts.bus.publish(entry.subject, entry.data, {
          id: entry.id,
          time: new Date(entry.createdAt).toISOString(),
          ...(entry.requestId === undefined ? {} : { requestId: entry.requestId }),
        });
        if (entry.relay === this.instanceId && entry.seq !== undefined) {
          // Ours: the checkpoint records it; the entry is pulled off the document when the relay
          // is idle (or dropped by the document's next save), never on the hot path.
          this.settle([entry.seq]);
          this.queueTidy(model, doc._id, [entry]);
          continue;
        }
        // Nobody vouches for it (left by a crash, or stored outside commit): remove it now.
        await pullEntry(model, doc._id, entry);
      } catch (err) {
        this.log.warn({ err, subject: entry.subject, eventId: entry.id }, 'outbox publish failed; will retry');
        this.retryLater();
        return false;
      }
    }
    return true;
  }

  /**
   * Settles the entries of failed saves. flush() publishes whichever of them were stored after all;
   * once it succeeds, the rest were never stored.
   */
  private async verify(): Promise<number> {
    const batch = this.toVerify;
    this.toVerify = [];
    for (const item of batch) {
      if (await this.flush(item.model, item.id)) this.settle(item.seqs);
      else this.toVerify.push(item);
    }
    return this.toVerify.length;
  }

  /** Publishes every pending entry of every model. Returns how many documents still have some. */
  async sweep(): Promise<number> {
    const first = this.opts.models[0];
    if (first === undefined) return 0;
    const checkpoints = await readCheckpoints(first.db);
    checkpoints.delete(this.instanceId);
    this.others = checkpoints;
    let remaining = await this.verify();
    for (const model of this.opts.models) {
      // Documents keep their last published entry, so this reads every document that has one and
      // skips the published ones here (FerretDB scans the collection for this filter either way).
      const docs = model
        .find({ 'outbox.0': { $exists: true } })
        .select({ outbox: 1 })
        .lean<OutboxDocument[]>()
        .cursor();
      for await (const doc of docs) {
        this.queueTidy(
          model,
          doc._id,
          doc.outbox.filter((entry) => this.isPublished(entry)),
        );
        if (doc.outbox.every((entry) => this.isPublished(entry))) continue;
        if (!(await this.flush(model, doc._id))) remaining += 1;
      }
    }
    return remaining;
  }

  private queueTidy(model: AnyModel, id: unknown, entries: OutboxEntry[]): void {
    if (entries.length === 0) return;
    const key = this.keyOf(model, id);
    const item = this.tidyQueue.get(key);
    if (item !== undefined) item.entries.push(...entries);
    else if (this.tidyQueue.size < TIDY_BACKLOG_MAX) this.tidyQueue.set(key, { model, id, entries: [...entries] });
    this.scheduleTidy();
  }

  private scheduleTidy(): void {
    if (this.stopped || this.tidyTimer !== undefined || this.tidyQueue.size === 0) return;
    this.tidyTimer = setTimeout(() => {
      this.tidyTimer = undefined;
      void this.tidy();
    }, this.opts.tidyIdleMs ?? 250);
    this.tidyTimer.unref();
  }

  /**
   * Pulls published entries off their documents while no commit is running, and stops as soon as
   * one starts: storage hygiene (FerretDB scans decode whole documents, so leftovers make them
   * slower), never competing with requests.
   */
  private async tidy(): Promise<void> {
    if (this.tidying) return;
    this.tidying = true;
    const idleMs = this.opts.tidyIdleMs ?? 250;
    try {
      for (const [key, item] of this.tidyQueue) {
        if (this.stopped || this.committing > 0 || Date.now() - this.lastCommitAt < idleMs) break;
        this.tidyQueue.delete(key);
        await this.exclusive(item.model, item.id, async () => {
          for (const entry of item.entries) await pullEntry(item.model, item.id, entry);
        }).catch((err: unknown) => {
          // Harmless: the entry stays until the document's next save or the next sweep.
          this.log.debug({ err }, 'outbox tidy failed');
        });
      }
    } finally {
      this.tidying = false;
      this.scheduleTidy();
    }
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer !== undefined) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.writeCheckpoint();
    }, CHECKPOINT_DELAY_MS);
    this.checkpointTimer.unref();
  }

  /** Records through() in this relay's checkpoint if it moved (writes are chained, never concurrent). */
  private writeCheckpoint(): Promise<void> {
    const first = this.opts.models[0];
    this.checkpointChain = this.checkpointChain.then(async () => {
      const through = this.through();
      if (first === undefined || through <= this.persistedThrough) return;
      try {
        await first.db
          .collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS)
          .updateOne({ _id: this.instanceId }, { $set: { through, at: new Date() } }, { upsert: true });
        this.persistedThrough = through;
      } catch (err) {
        // Not fatal: until it is written, a restart re-publishes these events (at least once).
        this.log.warn({ err }, 'outbox checkpoint write failed; will retry');
        if (!this.stopped) this.scheduleCheckpoint();
      }
    });
    return this.checkpointChain;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
    this.scheduleTidy();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let remaining = 0;
    if (this.dirty) {
      this.dirty = false;
      try {
        remaining = await this.sweep();
      } catch (err) {
        this.log.warn({ err }, 'outbox sweep failed');
        remaining = 1;
      }
      if (remaining > 0) this.dirty = true;
    } else {
      // Idle: an occasional sweep catches entries left by a crash of another process.
      this.dirty = true;
    }
    this.schedule(
      this.dirty && remaining > 0 ? (this.opts.retryIntervalMs ?? 1_000) : (this.opts.idleIntervalMs ?? 30_000),
    );
  }

  /** Stops the timers, waits for publishes under way and records how far this relay got. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.tidyTimer) clearTimeout(this.tidyTimer);
    this.tidyTimer = undefined;
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await Promise.allSettled([...this.pending]);
    await this.writeCheckpoint();
  }
}
