import { RetryLaterError } from '@ticketing/common';

/**
 * Applies a replica's versioned events in order, inside one process, without flooding the database.
 *
 * A replica applies version N only on top of N-1, and an event from the future must stay unacked
 * until it can be applied. Leaving it to the bus alone is correct but slow: with events arriving
 * shuffled, each redelivery round (one ack wait) moves the replica by a version or two, and every
 * handler re-reading the replica at once queues hundreds of queries in front of the one update that
 * matters. So events are grouped per record into a lane: one loop per record reads the replica's
 * version once, applies whichever waiting event comes next (one conditional update per version),
 * settles duplicates and older events as stale, and holds events from the future in memory, still
 * unacked, until their turn comes. An event still waiting when its hold time is up (shorter than the
 * ack wait) is rejected with RetryLaterError, so the bus redelivers it later: its predecessor may be
 * handled by another pod, or not delivered yet. The conditional update keeps this safe across pods;
 * the lane only makes it fast within one.
 */
export type SequencedOutcome = 'applied' | 'stale' | 'future';

export interface VersionedEvent {
  id: string;
  version: number;
}

/**
 * The lane reads before it writes, so that its conditional writes are expected to match: where
 * filters are not indexed (see ServerProfile in common) a conditional update that matches nothing
 * scans the whole collection, while a lookup by _id is cheap everywhere.
 */
export interface SequencerOps<E extends VersionedEvent> {
  /** The record's current version, or undefined while the replica does not have it. */
  currentVersion(id: string): Promise<number | undefined>;
  /**
   * Applies `event` if and only if the record is at event.version - 1 (one conditional write).
   * `versionJustRead`: the lane read the record at event.version - 1 right before this call, with
   * nothing awaited since (the write may rely on that read instead of checking again).
   */
  apply(event: E, versionJustRead: boolean): Promise<SequencedOutcome>;
}

interface Waiting<E> {
  event: E;
  resolve(outcome: 'applied' | 'stale'): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

interface Lane<E> {
  waiting: Map<number, Array<Waiting<E>>>;
  /** Last version read or written; undefined: the record is absent (or was when last read). */
  known: number | undefined;
  /** The next loop turn must read the version again (someone else may have moved it). */
  stale: boolean;
  wake: (() => void) | undefined;
}

export interface SequencerOptions {
  /** While nothing in a lane can be applied, re-read the record this often: another pod may move it. */
  recheckMs?: number;
}

export class VersionSequencer<E extends VersionedEvent> {
  private readonly lanes = new Map<string, Lane<E>>();
  private readonly recheckMs: number;

  constructor(
    private readonly ops: SequencerOps<E>,
    opts: SequencerOptions = {},
  ) {
    this.recheckMs = opts.recheckMs ?? 200;
  }

  /**
   * Resolves once the event is applied ('applied') or known to be a duplicate or older ('stale');
   * rejects with RetryLaterError if its predecessor has not been applied within holdMs.
   */
  submit(event: E, holdMs: number): Promise<'applied' | 'stale'> {
    return new Promise((resolve, reject) => {
      let lane = this.lanes.get(event.id);
      const isNew = lane === undefined;
      lane ??= { waiting: new Map(), known: undefined, stale: true, wake: undefined };
      this.lanes.set(event.id, lane);
      const entry: Waiting<E> = {
        event,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(lane, entry);
          reject(new RetryLaterError(`${event.id} version ${event.version} waits for version ${event.version - 1}`));
        }, holdMs),
      };
      const sameVersion = lane.waiting.get(event.version) ?? [];
      sameVersion.push(entry);
      lane.waiting.set(event.version, sameVersion);
      if (isNew) void this.run(event.id, lane);
      else lane.wake?.();
    });
  }

  /** The record changed outside the lane (ticket:created inserted it): read it again. */
  poke(id: string): void {
    const lane = this.lanes.get(id);
    if (lane === undefined) return;
    lane.stale = true;
    lane.wake?.();
  }

  /** Events held in memory right now (for tests and metrics). */
  get waitingCount(): number {
    let n = 0;
    for (const lane of this.lanes.values()) for (const list of lane.waiting.values()) n += list.length;
    return n;
  }

  private remove(lane: Lane<E>, entry: Waiting<E>): void {
    const list = lane.waiting.get(entry.event.version);
    if (list === undefined) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) lane.waiting.set(entry.event.version, rest);
    else lane.waiting.delete(entry.event.version);
    lane.wake?.();
  }

  private settle(lane: Lane<E>, version: number, first: 'applied' | 'stale'): void {
    const list = lane.waiting.get(version) ?? [];
    lane.waiting.delete(version);
    list.forEach((entry, i) => {
      clearTimeout(entry.timer);
      entry.resolve(i === 0 ? first : 'stale');
    });
  }

  private async run(id: string, lane: Lane<E>): Promise<void> {
    try {
      while (lane.waiting.size > 0) {
        let justRead = false;
        if (lane.stale) {
          lane.stale = false;
          lane.known = await this.ops.currentVersion(id);
          justRead = true;
        }
        const known = lane.known;
        if (known !== undefined) {
          for (const version of [...lane.waiting.keys()]) if (version <= known) this.settle(lane, version, 'stale');
          const next = lane.waiting.get(known + 1);
          if (next !== undefined && next.length > 0) {
            const outcome = await this.ops.apply(next[0]!.event, justRead);
            if (outcome === 'applied') {
              lane.known = known + 1;
              this.settle(lane, known + 1, 'applied');
            } else {
              lane.stale = true;
            }
            continue;
          }
        }
        if (lane.waiting.size === 0) break;
        // Nothing can be applied: sleep until an event arrives, one gives up, a poke, or the recheck.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            lane.stale = true;
            resolve();
          }, this.recheckMs);
          lane.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        lane.wake = undefined;
      }
    } catch (err) {
      // The database failed us: every waiting event is left for redelivery (the base class logs it).
      for (const list of lane.waiting.values()) {
        for (const entry of list) {
          clearTimeout(entry.timer);
          entry.reject(err);
        }
      }
      lane.waiting.clear();
    } finally {
      if (this.lanes.get(id) === lane) this.lanes.delete(id);
    }
  }
}
