import { randomUUID } from 'node:crypto';
import type mongoose from 'mongoose';
import type { Logger } from 'pino';
import { insertGrouped } from '../group-insert';
import { runExclusive } from '../run-exclusive';
import { CheckpointWriter } from './checkpoint-writer';
import { readCheckpointRows, removeGoneCheckpoints, toCheckpoints } from './checkpoints';
import { documentKey } from './document-key';
import { publishEntry, pullEntry, wroteNothing, type AnyModel, type OutboxDocument, type OutboxEntry } from './entry';
import { Ledger, type OutboxBacklog } from './ledger';
import { trackRelay } from './outbox-metrics';
import { withDefaults, type OutboxRelayOptions, type RelaySettings } from './options';
import { Ticker } from './ticker';
import { Tidier } from './tidier';

/**
 * Transactional outbox inside the document itself. A change and the event that describes it are
 * written by the same single-document save (atomic on every MongoDB-compatible server, no
 * multi-document transaction needed). The relay then publishes pending entries in order; whatever a
 * crash, a bus outage or a lost reply leaves behind is published by a later sweep. Delivery is at
 * least once, which every listener already tolerates (the event id is stable).
 *
 * Marking is amortised: the relay numbers the entries it commits (its instance id + a sequence) and
 * records in one checkpoint document per relay the sequence up to which all of them are published
 * (ledger.ts, checkpoint-writer.ts), instead of an update per event. Published entries are dropped
 * by the document's next save or pulled off while idle (tidier.ts). See docs/events.md, "The outbox".
 */
export class OutboxRelay {
  /** This relay's id in entries and in its checkpoint; new for every instance (every process start). */
  readonly instanceId = randomUUID();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly ticker: Ticker;
  private stopped = true;
  private readonly log: Logger;
  private readonly ledger = new Ledger(this.instanceId);
  private readonly checkpoint: CheckpointWriter;
  private readonly tidier: Tidier;
  private readonly opts: RelaySettings;
  private untrack = (): void => undefined;

  constructor(options: OutboxRelayOptions) {
    const opts = withDefaults(options);
    this.opts = opts;
    this.log = opts.logger.child({ component: 'outbox' });
    this.checkpoint = new CheckpointWriter({
      relayId: this.instanceId,
      db: () => opts.models[0]?.db,
      collections: () => opts.models.map((model) => model.collection.collectionName),
      state: () => this.ledger.state(),
      used: () => this.ledger.used,
      stopped: () => this.stopped,
      log: this.log,
    });
    this.ticker = new Ticker(() => this.tick(), opts.retryIntervalMs, opts.idleIntervalMs);
    this.tidier = new Tidier((model, id, task) => this.exclusive(model, id, task), this.log, opts.tidyIdleMs);
    // When the bus comes back, publish what piled up without waiting for the timer.
    opts.bus.on('connected', () => this.ticker.schedule(0));
  }

  /** This relay's entries not yet known to be published: for metrics and health checks. */
  backlog(): OutboxBacklog {
    return this.ledger.backlog();
  }

  /** Publishes the pending events of one document, in order. Resolves true when none are left. */
  flush(model: AnyModel, id: unknown): Promise<boolean> {
    return this.exclusive(model, id, async () => {
      const done = await this.flushNow(model, id);
      if (done && this.ledger.readWhole(model, id)) this.checkpoint.schedule();
      return done;
    });
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
    const { entries, dropped } = this.ledger.prepare(doc, numbered);
    // This save removes the published entries itself: nothing left to tidy on this document.
    if (dropped) this.tidier.forget(model, doc._id);
    this.ledger.saving(numbered, model, doc._id);
    try {
      // New documents of concurrent requests share one insert (group commit, see insertGrouped).
      if (doc.isNew) await insertGrouped(doc);
      else await doc.save();
    } catch (err) {
      if (wroteNothing(err)) this.settle(numbered);
      else this.unknownOutcome(numbered);
      throw err;
    }
    this.ledger.mark(numbered, 'stored');
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

  /**
   * The save failed without proof that nothing was written: its reply may be lost, or the write may
   * still reach the server. Its entries are never taken as never stored: the checkpoint lists them
   * as open (so no relay skips them), the relay looks for them soon, and every sweep publishes
   * them whenever they appear.
   */
  private unknownOutcome(seqs: number[]): void {
    if (seqs.length === 0) return;
    this.ledger.mark(seqs, 'unknown');
    this.checkpoint.schedule();
    this.ticker.retry();
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
    for (const entry of doc?.outbox ?? []) {
      if (this.ledger.isPublished(entry)) continue;
      try {
        await publishEntry(this.opts.bus, entry);
        if (this.ledger.owns(entry)) {
          // Ours: the checkpoint records it; the entry is pulled off the document when the relay
          // is idle (or dropped by the document's next save), never on the hot path.
          this.settle([entry.seq]);
          this.tidier.add(model, id, [entry]);
          continue;
        }
        // Nobody vouches for it (left by a crash, or stored outside commit): remove it now.
        await pullEntry(model, id, entry);
      } catch (err) {
        this.log.warn({ err, subject: entry.subject, eventId: entry.id }, 'outbox publish failed; will retry');
        this.ticker.retry();
        return false;
      }
    }
    return true;
  }

  /**
   * Publishes every pending entry of every model, looks for this relay's entries that are not
   * settled (a failed publish, a save with an unknown outcome) and removes the checkpoints of gone
   * relays. Returns how many documents are still left to publish.
   */
  async sweep(): Promise<number> {
    const first = this.opts.models[0];
    if (first === undefined) return 0;
    const rows = await readCheckpointRows(first.db);
    this.ledger.setOthers(toCheckpoints(rows));
    const seen = new Set<string>();
    let remaining = 0;
    for (const model of this.opts.models) {
      // Documents keep their last published entry, so this reads every document that has one and
      // skips the published ones here (FerretDB scans the collection for this filter either way).
      const docs = model
        .find({ 'outbox.0': { $exists: true } })
        .select({ outbox: 1 })
        .lean<OutboxDocument[]>()
        .cursor();
      for await (const doc of docs) {
        for (const entry of doc.outbox) if (entry.relay !== undefined) seen.add(entry.relay);
        const published = doc.outbox.filter((entry) => this.ledger.isPublished(entry));
        this.tidier.add(model, doc._id, published);
        if (published.length === doc.outbox.length) continue;
        if (!(await this.flush(model, doc._id))) remaining += 1;
      }
    }
    // Entries the scan could not tell about: it skips documents whose entries all look published.
    for (const { model, id } of this.ledger.toVerify()) if (!(await this.flush(model, id))) remaining += 1;
    const removed = await removeGoneCheckpoints(first.db, rows, {
      self: this.instanceId,
      collections: this.opts.models.map((model) => model.collection.collectionName),
      seen,
      staleAfterMs: this.opts.staleAfterMs,
    });
    if (removed.length > 0) this.log.info({ relays: removed }, 'outbox checkpoints of gone relays removed');
    return remaining;
  }

  start(): void {
    this.stopped = false;
    // Its backlog shows in /metrics (outbox_pending_entries, ...) while it runs.
    this.untrack = trackRelay(this);
    this.ticker.start();
    this.tidier.start();
  }

  /** One tick of the relay's timer: a sweep and a heartbeat. Resolves whether work is left. */
  private async tick(): Promise<boolean> {
    try {
      const remaining = await this.sweep();
      await this.checkpoint.heartbeat(this.opts.heartbeatMs);
      return remaining > 0;
    } catch (err) {
      this.log.warn({ err }, 'outbox sweep failed');
      return true;
    }
  }

  /** Stops the timers, waits for publishes under way and records how far this relay got. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.untrack();
    this.ticker.stop();
    this.tidier.stop();
    await Promise.allSettled([...this.pending]);
    await this.checkpoint.stop();
  }
}
