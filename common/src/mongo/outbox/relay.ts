import { randomUUID } from 'node:crypto';
import type mongoose from 'mongoose';
import type { Logger } from 'pino';
import type { Bus } from '../../events/bus';
import { insertGrouped } from '../group-insert';
import { runExclusive } from '../run-exclusive';
import { CheckpointWriter, readCheckpoints } from './checkpoints';
import { pullEntry, wroteNothing, type AnyModel, type OutboxDocument, type OutboxEntry } from './entry';
import { Ledger } from './ledger';
import { Tidier, documentKey } from './tidier';

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
  private readonly ledger = new Ledger(this.instanceId);
  /** Entries whose save failed without proof that nothing was written: checked by the next tick. */
  private toVerify: Array<{ model: AnyModel; id: unknown; seqs: number[] }> = [];
  private readonly checkpoint: CheckpointWriter;
  private readonly tidier: Tidier;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.log = opts.logger.child({ component: 'outbox' });
    this.checkpoint = new CheckpointWriter(
      this.instanceId,
      () => opts.models[0]?.db,
      () => this.ledger.through(),
      () => this.stopped,
      this.log,
    );
    this.tidier = new Tidier((model, id, task) => this.exclusive(model, id, task), this.log, opts.tidyIdleMs ?? 250);
    // When the bus comes back, publish what piled up without waiting for the timer.
    opts.bus.on('connected', () => {
      this.dirty = true;
      this.schedule(0);
    });
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
    this.tidier.commitStarted();
    try {
      let onSaved = (): void => undefined;
      const saved = new Promise<void>((resolve) => (onSaved = resolve));
      // Rejects if the save fails (then nothing was published); the publish itself never throws.
      const done = this.exclusive(model, doc._id, () => this.commitNow(model, doc, onSaved));
      await Promise.race([saved, done]);
    } finally {
      this.tidier.commitEnded();
    }
  }

  private async commitNow(
    model: AnyModel,
    doc: mongoose.Document & OutboxDocument,
    onSaved: () => void,
  ): Promise<void> {
    const numbered: number[] = [];
    let entries: OutboxEntry[];
    if (doc.isNew) {
      // Every entry is new and unsaved: number them in place (the insert stores them as they are now).
      doc.outbox.forEach((entry, i) => (doc.outbox[i] = this.ledger.number(entry, numbered)));
      // A copy: the publish below runs after commit() returned, when the caller may stage more.
      entries = Array.from(doc.outbox);
    } else {
      // Rewrite the list as new plain values (never edited in place: Mongoose would see no change):
      // drop what is published, number what is new. One $set of the array.
      const all = Array.from(doc.get('outbox') as OutboxEntry[]);
      entries = all.filter((entry) => !this.ledger.isPublished(entry)).map((e) => this.ledger.number(e, numbered));
      if (numbered.length > 0 || entries.length !== all.length) {
        doc.set('outbox', entries);
        doc.markModified('outbox');
      }
      // This save removes the published entries itself: nothing left to tidy on this document.
      if (entries.length !== all.length) this.tidier.forget(model, doc._id);
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

  private exclusive<T>(model: AnyModel, id: unknown, task: () => Promise<T>): Promise<T> {
    const run = runExclusive(documentKey(model, id), task);
    this.pending.add(run);
    void run.then(
      () => this.pending.delete(run),
      () => this.pending.delete(run),
    );
    return run;
  }

  /** These sequence numbers are published or were never stored: the checkpoint may move past them. */
  private settle(seqs: number[]): void {
    if (this.ledger.settle(seqs)) this.checkpoint.schedule();
  }

  private verifyLater(model: AnyModel, id: unknown, seqs: number[]): void {
    this.toVerify.push({ model, id, seqs });
    this.retryLater();
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
      if (this.ledger.isPublished(entry)) continue;
      try {
        await this.opts.bus.publish(entry.subject, entry.data, {
          id: entry.id,
          time: new Date(entry.createdAt).toISOString(),
          ...(entry.requestId === undefined ? {} : { requestId: entry.requestId }),
        });
        if (this.ledger.owns(entry)) {
          // Ours: the checkpoint records it; the entry is pulled off the document when the relay
          // is idle (or dropped by the document's next save), never on the hot path.
          this.settle([entry.seq]);
          this.tidier.add(model, doc._id, [entry]);
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
    this.ledger.setOthers(await readCheckpoints(first.db));
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
        const published = doc.outbox.filter((entry) => this.ledger.isPublished(entry));
        this.tidier.add(model, doc._id, published);
        if (published.length === doc.outbox.length) continue;
        if (!(await this.flush(model, doc._id))) remaining += 1;
      }
    }
    return remaining;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
    this.tidier.start();
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
    this.tidier.stop();
    this.checkpoint.cancel();
    await Promise.allSettled([...this.pending]);
    await this.checkpoint.write();
  }
}
