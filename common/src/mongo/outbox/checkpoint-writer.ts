import type mongoose from 'mongoose';
import type { Logger } from 'pino';
import { checkpointCollection, type OutboxCheckpoint } from './checkpoints';

/** Checkpoint writes are coalesced over this long (a crash in between costs re-publishes, no loss). */
const CHECKPOINT_DELAY_MS = 100;

export interface CheckpointSource {
  /** This relay's id (the checkpoint's _id). */
  relayId: string;
  /** The database to write to; undefined when the relay has no models. */
  db: () => mongoose.Connection | undefined;
  /** The collections the relay commits to. */
  collections: () => string[];
  /** What to record (see Ledger.state), and whether the relay numbered anything yet. */
  state: () => { through: number; open: number[] };
  used: () => boolean;
  /** Whether the relay is stopped (then a failed write is not retried). */
  stopped: () => boolean;
  log: Logger;
}

/**
 * Writes one relay's checkpoint: coalesced (at most one write per CHECKPOINT_DELAY_MS), chained
 * (never two at once), when what it records changed or a heartbeat is due (a checkpoint nobody
 * rewrites for long belongs to a crashed relay, see removeGoneCheckpoints), and once on stop.
 */
export class CheckpointWriter {
  private persisted = { through: 0, open: '' };
  private writtenAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly source: CheckpointSource) {}

  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, CHECKPOINT_DELAY_MS);
    this.timer.unref();
  }

  /** Rewrites the checkpoint if it was last written `heartbeatMs` ago or more. */
  heartbeat(heartbeatMs: number): Promise<void> {
    return Date.now() - this.writtenAt >= heartbeatMs ? this.write({ force: true }) : Promise.resolve();
  }

  /** Cancels the pending coalesced write and writes a last time, marked stopped. */
  stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.write({ force: true, stopping: true });
  }

  private write(opts: { force?: boolean; stopping?: boolean } = {}): Promise<void> {
    const db = this.source.db();
    this.chain = this.chain.then(async () => {
      const { through, open } = this.source.state();
      const changed = through !== this.persisted.through || open.join() !== this.persisted.open;
      // A relay that numbered nothing has nothing to vouch for: no checkpoint at all.
      if (db === undefined || !this.source.used() || (!changed && opts.force !== true)) return;
      const row: Omit<OutboxCheckpoint, '_id'> = {
        through,
        open,
        at: new Date(),
        collections: this.source.collections(),
        ...(opts.stopping === true ? { stoppedAt: new Date() } : {}),
      };
      try {
        await checkpointCollection(db).updateOne({ _id: this.source.relayId }, { $set: row }, { upsert: true });
        this.persisted = { through, open: open.join() };
        this.writtenAt = Date.now();
      } catch (err) {
        // Not fatal: until it is written, a restart re-publishes these events (at least once).
        this.source.log.warn({ err }, 'outbox checkpoint write failed; will retry');
        if (!this.source.stopped()) this.schedule();
      }
    });
    return this.chain;
  }
}
