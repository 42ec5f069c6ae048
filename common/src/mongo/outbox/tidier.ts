import type { Logger } from 'pino';
import { documentKey } from './document-key';
import { pullEntry, type AnyModel, type OutboxEntry } from './entry';

/** Published entries remembered for tidying, at most (beyond, they wait for the next save or sweep). */
const TIDY_BACKLOG_MAX = 50_000;

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
      for (const [key, item] of this.queue) {
        if (this.stopped || this.committing > 0 || Date.now() - this.lastCommitAt < this.idleMs) break;
        this.queue.delete(key);
        await this.exclusive(item.model, item.id, async () => {
          for (const entry of item.entries) await pullEntry(item.model, item.id, entry);
        }).catch((err: unknown) => {
          // Harmless: the entry stays until the document's next save or the next sweep.
          this.log.debug({ err }, 'outbox tidy failed');
        });
      }
    } finally {
      this.tidying = false;
      this.schedule();
    }
  }
}
