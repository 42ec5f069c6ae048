import { randomUUID } from 'node:crypto';
import type mongoose from 'mongoose';
import { Schema, type Model } from 'mongoose';
import type { Logger } from 'pino';
import type { Bus } from '../events/bus';
import type { EventData } from '../events/events';
import type { Subjects } from '../events/subjects';
import { currentRequestId } from '../log';
import { runExclusive } from './run-exclusive';

/**
 * Transactional outbox inside the document itself. A change and the event that describes it are
 * written by the same single-document save (atomic on every MongoDB-compatible server, no
 * multi-document transaction needed). The relay then publishes pending entries in order and pulls
 * them off the document; whatever a crash or a bus outage leaves behind is published by the next
 * sweep. Delivery is therefore at least once, which every listener already tolerates.
 */
export interface OutboxEntry {
  id: string;
  subject: Subjects;
  data: unknown;
  requestId?: string;
  createdAt: Date;
}

export interface WithOutbox {
  outbox: OutboxEntry[];
}

const outboxEntrySchema = new Schema<OutboxEntry>(
  {
    id: { type: String, required: true },
    subject: { type: String, required: true },
    data: { type: Schema.Types.Mixed, required: true },
    requestId: { type: String },
    createdAt: { type: Date, required: true },
  },
  { _id: false, minimize: false },
);

/** Generic for the same reason as versionPlugin: it must fit typed schemas. */
export function outboxPlugin<DocType, TModel>(typedSchema: Schema<DocType, TModel>): void {
  const schema = typedSchema as unknown as Schema;
  schema.add({ outbox: { type: [outboxEntrySchema], default: [] } });
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

export interface OutboxRelayOptions {
  bus: Bus;
  models: AnyModel[];
  logger: Logger;
  /** Safety-net sweep for entries whose immediate publish failed (default 1 s while dirty, 30 s idle). */
  retryIntervalMs?: number;
  idleIntervalMs?: number;
}

export class OutboxRelay {
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private dirty = true;
  private stopped = true;
  private readonly log: Logger;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.log = opts.logger.child({ component: 'outbox' });
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
   * Saves the document (change and staged events in one write) and tries to publish at once. The
   * save and the relay's own writes to the document (removing published entries) never overlap
   * within this process: on FerretDB an update rewrites the whole document, so an overlapping
   * removal could undo the save.
   */
  async commit(doc: mongoose.Document & OutboxDocument): Promise<void> {
    const model = doc.constructor as AnyModel;
    await this.exclusive(model, doc._id, async () => {
      await doc.save();
      // What was just saved is the document's outbox as stored: publish it without reading it back
      // (one read less per change on the hot path; the sweep re-reads whatever this misses).
      const saved = doc.toObject<OutboxDocument>();
      await this.flushNow(model, doc._id, saved.outbox);
    });
  }

  private exclusive<T>(model: AnyModel, id: unknown, task: () => Promise<T>): Promise<T> {
    const key = `outbox:${model.modelName}:${String(id)}`;
    const run = runExclusive(key, task);
    this.pending.add(run);
    void run.then(
      () => this.pending.delete(run),
      () => this.pending.delete(run),
    );
    return run;
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
              return null;
            })
        : { _id: id as mongoose.Types.ObjectId, outbox: known };
    if (doc === null) return true;
    for (const entry of doc.outbox) {
      try {
        await this.opts.bus.publish(entry.subject, entry.data, {
          id: entry.id,
          time: new Date(entry.createdAt).toISOString(),
          ...(entry.requestId === undefined ? {} : { requestId: entry.requestId }),
        });
        // Remove exactly this entry: $pull of the whole stored value (as read, so it compares equal)
        // does nothing if another relay instance removed it first and never touches a newer entry.
        // The filter is the bare _id on purpose: FerretDB scans the whole collection for any filter
        // with more than _id in it, while a conditional $pull is not supported there at all.
        // The driver's collection, not the model: mongoose would re-cast the entry.
        const pull: mongoose.mongo.UpdateFilter<OutboxDocument> = { $pull: { outbox: entry } };
        const result = await (model.collection as unknown as mongoose.mongo.Collection<OutboxDocument>).updateOne(
          { _id: doc._id },
          pull,
        );
        if (result.modifiedCount === 0 && known !== undefined) {
          // The in-memory copy did not match what is stored (or another relay removed it first):
          // let the sweep re-read the document; at worst the event is published once more.
          this.dirty = true;
          this.schedule(this.opts.retryIntervalMs ?? 1_000);
        }
      } catch (err) {
        this.log.warn({ err, subject: entry.subject, eventId: entry.id }, 'outbox publish failed; will retry');
        this.dirty = true;
        this.schedule(this.opts.retryIntervalMs ?? 1_000);
        return false;
      }
    }
    return true;
  }

  /** Publishes every pending entry of every model. Returns how many documents still have some. */
  async sweep(): Promise<number> {
    let remaining = 0;
    for (const model of this.opts.models) {
      const pending = await model
        .find({ 'outbox.0': { $exists: true } })
        .select({ _id: 1 })
        .limit(500)
        .lean<Array<{ _id: unknown }>>();
      for (const { _id } of pending) {
        if (!(await this.flush(model, _id))) remaining += 1;
      }
      if (pending.length === 500) remaining += 1;
    }
    return remaining;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
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

  /** Stops the timer and waits for publishes under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.pending]);
  }
}
