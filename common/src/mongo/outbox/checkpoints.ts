import mongoose from 'mongoose';
import type { Logger } from 'pino';
import type { OutboxDocument, OutboxEntry } from './entry';

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

/** Whether `entry` is vouched for as published by the checkpoints (relay id → through). */
export function coveredBy(checkpoints: ReadonlyMap<string, number>, entry: OutboxEntry): boolean {
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

export async function readCheckpoints(source: OutboxDatabase): Promise<Map<string, number>> {
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
 * Writes one relay's checkpoint: coalesced (at most one write per CHECKPOINT_DELAY_MS), chained
 * (never two at once) and only when `through` moved.
 */
export class CheckpointWriter {
  private persistedThrough = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly relayId: string,
    /** The database to write to; undefined when the relay has no models. */
    private readonly db: () => mongoose.Connection | undefined,
    /** The value to record: every entry numbered up to it is published (or was never stored). */
    private readonly through: () => number,
    /** Whether the relay is stopped (then a failed write is not retried). */
    private readonly stopped: () => boolean,
    private readonly log: Logger,
  ) {}

  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, CHECKPOINT_DELAY_MS);
    this.timer.unref();
  }

  /** Records through() if it moved (writes are chained, never concurrent). */
  write(): Promise<void> {
    const db = this.db();
    this.chain = this.chain.then(async () => {
      const through = this.through();
      if (db === undefined || through <= this.persistedThrough) return;
      try {
        await db
          .collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS)
          .updateOne({ _id: this.relayId }, { $set: { through, at: new Date() } }, { upsert: true });
        this.persistedThrough = through;
      } catch (err) {
        // Not fatal: until it is written, a restart re-publishes these events (at least once).
        this.log.warn({ err }, 'outbox checkpoint write failed; will retry');
        if (!this.stopped()) this.schedule();
      }
    });
    return this.chain;
  }

  /** Cancels the pending coalesced write (stop() then writes once more itself). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
