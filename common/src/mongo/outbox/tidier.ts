import type { Logger } from 'pino';
import { documentKey } from './document-key';
import { pullEntries, type AnyModel, type OutboxEntry } from './entry';

/** Published entries remembered for tidying, at most (beyond, they wait for the next save or sweep). */
const TIDY_BACKLOG_MAX = 50_000;

/**
 * Documents tidied by one command, at most: their pulls go in one bulk write instead of an update
 * each. Measured on FerretDB 1.24/SQLite, 100 pulls took 327 ms one by one, 130 ms in bulk writes of
 * 10 and 199 ms in bulk writes of 25, while one bulk write of 100 took many seconds: keep it small.
 * Each document of a batch stays locked (no commit to it) while its batch is with the server.
 */
const TIDY_BATCH = 10;

/** Runs a task under the lock of one document (the relay's per-document exclusivity). */
export type Exclusive = <T>(model: AnyModel, id: unknown, task: () => Promise<T>) => Promise<T>;

/**
 * Pulls published entries off their documents while no commit is running, and stops as soon as
 * one starts: storage hygiene (FerretDB scans decode whole documents, so leftovers make them
 * slower), never competing with requests.
 */
export class Tidier {
  /** Published entries still on their documents, by document: pulled off while the relay is idle. */
  private readonly queue = new Map<string, { model: AnyModel; id: unknown; entries: OutboxEntry[] }>();
  private timer: NodeJS.Timeout | undefined;
  private tidying = false;
  private stopped = true;
  private committing = 0;
  private lastCommitAt = 0;

  constructor(
    private readonly exclusive: Exclusive,
    private readonly log: Logger,
    /** Entries are pulled once no commit has run for this long. */
    private readonly idleMs: number,
  ) {}

  /** A commit starts or ends: tidying waits until none has run for idleMs. */
  commitStarted(): void {
    this.committing += 1;
    this.lastCommitAt = Date.now();
  }

  commitEnded(): void {
    this.committing -= 1;
    this.lastCommitAt = Date.now();
  }

  add(model: AnyModel, id: unknown, entries: OutboxEntry[]): void {
    if (entries.length === 0) return;
    const key = documentKey(model, id);
    const item = this.queue.get(key);
    if (item !== undefined) item.entries.push(...entries);
    else if (this.queue.size < TIDY_BACKLOG_MAX) this.queue.set(key, { model, id, entries: [...entries] });
    this.schedule();
  }

  /** The document's own save removed its published entries: nothing left to tidy there. */
  forget(model: AnyModel, id: unknown): void {
    this.queue.delete(documentKey(model, id));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined || this.queue.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tidy();
    }, this.idleMs);
    this.timer.unref();
  }

  private async tidy(): Promise<void> {
    if (this.tidying) return;
    this.tidying = true;
    try {
      while (this.queue.size > 0 && !this.busy()) {
        // One model per batch: a bulk write goes to one collection.
        const batch: Array<{ model: AnyModel; id: unknown; entries: OutboxEntry[] }> = [];
        for (const [key, item] of this.queue) {
          if (batch.length >= TIDY_BATCH) break;
          if (batch.length > 0 && item.model !== batch[0]?.model) continue;
          this.queue.delete(key);
          batch.push(item);
        }
        const model = batch[0]?.model;
        if (model === undefined) break;
        await this.underLocks(batch, 0, () => pullEntries(model, batch)).catch((err: unknown) => {
          // Harmless: the entries stay until their document's next save or the next sweep.
          this.log.debug({ err }, 'outbox tidy failed');
        });
      }
    } finally {
      this.tidying = false;
      this.schedule();
    }
  }

  private busy(): boolean {
    return this.stopped || this.committing > 0 || Date.now() - this.lastCommitAt < this.idleMs;
  }

  /**
   * Runs `task` holding the relay's lock of every document of the batch, taken one after the other.
   * No deadlock: the tidier is the only holder of several locks, and the holder of one never waits
   * for another.
   */
  private underLocks<T>(
    batch: ReadonlyArray<{ model: AnyModel; id: unknown }>,
    i: number,
    task: () => Promise<T>,
  ): Promise<T> {
    const item = batch[i];
    if (item === undefined) return task();
    return this.exclusive(item.model, item.id, () => this.underLocks(batch, i + 1, task));
  }
}
