import { coveredBy } from './checkpoints';
import type { OutboxEntry } from './entry';

/**
 * The relay's bookkeeping of the entries it numbers: its instance id and a sequence, the sequence
 * numbers not yet settled (committed or being committed, and neither published nor known absent),
 * and the other relays' checkpoints as last read. From these it answers whether an entry is
 * published and how far its own checkpoint may go.
 */
export class Ledger {
  /** The last sequence number given to an entry. */
  private seq = 0;
  /** Sequence numbers committed (or being committed) and not yet published or known absent. */
  private readonly unconfirmed = new Set<number>();
  /** Other relays' checkpoints as last read (sweeps refresh them); this relay's own is `through()`. */
  private others = new Map<string, number>();

  constructor(readonly instanceId: string) {}

  /** The entry with this relay's id and next sequence number (entries already numbered as they are). */
  number(entry: OutboxEntry, numbered: number[]): OutboxEntry {
    if (entry.relay !== undefined) return entry;
    this.seq += 1;
    this.unconfirmed.add(this.seq);
    numbered.push(this.seq);
    return { ...entry, relay: this.instanceId, seq: this.seq };
  }

  /** These sequence numbers are published or were never stored. Returns whether any was given. */
  settle(seqs: readonly number[]): boolean {
    for (const seq of seqs) this.unconfirmed.delete(seq);
    return seqs.length > 0;
  }

  /** Whether `entry` is this relay's own (then its publication settles its sequence number). */
  owns(entry: OutboxEntry): entry is OutboxEntry & { seq: number } {
    return entry.relay === this.instanceId && entry.seq !== undefined;
  }

  /** Every entry this relay committed with seq <= through() has been published (or was never stored). */
  through(): number {
    let lowest = Infinity;
    for (const seq of this.unconfirmed) lowest = Math.min(lowest, seq);
    return lowest === Infinity ? this.seq : lowest - 1;
  }

  isPublished(entry: OutboxEntry): boolean {
    if (this.owns(entry)) return entry.seq <= this.seq && !this.unconfirmed.has(entry.seq);
    return coveredBy(this.others, entry);
  }

  /** Replaces the other relays' checkpoints (relay id → through) with a fresh read. */
  setOthers(checkpoints: Map<string, number>): void {
    checkpoints.delete(this.instanceId);
    this.others = checkpoints;
  }
}
