import { coveredBy, type Checkpoints } from './checkpoints';
import { documentKey } from './document-key';
import type mongoose from 'mongoose';
import type { AnyModel, OutboxDocument, OutboxEntry } from './entry';

/**
 * Where one of this relay's entries stands. `saving`: its save is under way. `stored`: saved, not yet
 * published. `unknown`: its save failed without proof that nothing was written (a lost reply), so it
 * may be stored now or land later; `checked` once the relay has looked for it after the failure.
 */
type Stage = 'saving' | 'stored' | 'unknown';

interface Tracked {
  stage: Stage;
  model: AnyModel;
  id: unknown;
  since: number;
  checked: boolean;
}

/**
 * Unknown outcomes listed in the checkpoint, at most. Beyond, the oldest hold the checkpoint back
 * instead (still safe: an entry past the checkpoint is published by whoever finds it).
 */
const MAX_OPEN = 10_000;

/** How many of this relay's entries are not known to be published, and since when the oldest is. */
export interface OutboxBacklog {
  /** Stored (or possibly stored) and not yet published. */
  pending: number;
  /** Of those, entries whose save has an unknown outcome (they may never have been written). */
  unknownOutcome: number;
  oldestPendingAt: Date | undefined;
}

/**
 * The relay's bookkeeping of the entries it numbers (its instance id and a sequence): which of them
 * are not settled yet, and the other relays' checkpoints as last read. From these it answers whether
 * an entry is published and what its own checkpoint may record.
 */
export class Ledger {
  /** The last sequence number given to an entry. */
  private seq = 0;
  /** Entries numbered and neither published nor known never stored, by sequence number. */
  private readonly tracked = new Map<number, Tracked>();
  /** The same sequence numbers by document (documentKey). */
  private readonly byDocument = new Map<string, Set<number>>();
  /** Other relays' checkpoints as last read (sweeps refresh them); this relay's own is `state()`. */
  private others: Checkpoints = new Map();

  constructor(readonly instanceId: string) {}

  /** Whether this relay has numbered any entry (before that it has nothing to checkpoint). */
  get used(): boolean {
    return this.seq > 0;
  }

  /** The entry with this relay's id and next sequence number (entries already numbered as they are). */
  private number(entry: OutboxEntry, numbered: number[]): OutboxEntry {
    if (entry.relay !== undefined) return entry;
    this.seq += 1;
    numbered.push(this.seq);
    return { ...entry, relay: this.instanceId, seq: this.seq };
  }

  /**
   * Readies a document's outbox for its save: numbers the new entries and drops the published ones.
   * Returns the entries as they will be stored and whether published ones were dropped.
   */
  prepare(doc: mongoose.Document & OutboxDocument, numbered: number[]): { entries: OutboxEntry[]; dropped: boolean } {
    if (doc.isNew) {
      // Every entry is new and unsaved: number them in place (the insert stores them as they are now).
      doc.outbox.forEach((entry, i) => (doc.outbox[i] = this.number(entry, numbered)));
      // A copy: the publish runs after commit() returned, when the caller may stage more.
      return { entries: Array.from(doc.outbox), dropped: false };
    }
    // Rewrite the list as new plain values (never edited in place: Mongoose would see no change):
    // drop what is published, number what is new. One $set of the array.
    const all = Array.from(doc.get('outbox') as OutboxEntry[]);
    const entries = all.filter((entry) => !this.isPublished(entry)).map((entry) => this.number(entry, numbered));
    if (numbered.length > 0 || entries.length !== all.length) {
      doc.set('outbox', entries);
      doc.markModified('outbox');
    }
    return { entries, dropped: entries.length !== all.length };
  }

  /** The save of these entries of one document starts. */
  saving(seqs: readonly number[], model: AnyModel, id: unknown): void {
    if (seqs.length === 0) return;
    const since = Date.now();
    const key = documentKey(model, id);
    const ofDocument = this.byDocument.get(key) ?? new Set<number>();
    this.byDocument.set(key, ofDocument);
    for (const seq of seqs) {
      this.tracked.set(seq, { stage: 'saving', model, id, since, checked: false });
      ofDocument.add(seq);
    }
  }

  /** Their save succeeded (`stored`) or failed without proof that nothing was written (`unknown`). */
  mark(seqs: readonly number[], stage: 'stored' | 'unknown'): void {
    for (const seq of seqs) {
      const item = this.tracked.get(seq);
      if (item !== undefined) item.stage = stage;
    }
  }

  /** These are published or were never stored. Returns whether any was still tracked. */
  settle(seqs: readonly number[]): boolean {
    let changed = false;
    for (const seq of seqs) {
      const item = this.tracked.get(seq);
      if (item === undefined) continue;
      this.tracked.delete(seq);
      this.forgetOnDocument(documentKey(item.model, item.id), seq);
      changed = true;
    }
    return changed;
  }

  private forgetOnDocument(key: string, seq: number): void {
    const ofDocument = this.byDocument.get(key);
    ofDocument?.delete(seq);
    if (ofDocument?.size === 0) this.byDocument.delete(key);
  }

  /**
   * A read of the document (under its lock) published every entry it found. Its `stored` entries
   * that are still tracked were not there, so another relay published and pulled them: settled.
   * Its `unknown` ones may still land: they stay, listed in the checkpoint, for any sweep to find.
   */
  readWhole(model: AnyModel, id: unknown): boolean {
    const vanished: number[] = [];
    for (const seq of this.byDocument.get(documentKey(model, id)) ?? []) {
      const item = this.tracked.get(seq);
      if (item?.stage === 'stored') vanished.push(seq);
      else if (item?.stage === 'unknown') item.checked = true;
    }
    return this.settle(vanished);
  }

  /** Documents holding entries to look for: stored ones whose publish failed, unknown ones not yet checked. */
  toVerify(): Array<{ model: AnyModel; id: unknown }> {
    const docs = new Map<string, { model: AnyModel; id: unknown }>();
    for (const item of this.tracked.values()) {
      if (item.stage === 'saving' || (item.stage === 'unknown' && item.checked)) continue;
      docs.set(documentKey(item.model, item.id), { model: item.model, id: item.id });
    }
    return [...docs.values()];
  }

  /** Whether `entry` is this relay's own (then its publication settles its sequence number). */
  owns(entry: OutboxEntry): entry is OutboxEntry & { seq: number } {
    return entry.relay === this.instanceId && entry.seq !== undefined;
  }

  isPublished(entry: OutboxEntry): boolean {
    if (this.owns(entry)) return entry.seq <= this.seq && !this.tracked.has(entry.seq);
    return coveredBy(this.others, entry);
  }

  /**
   * What this relay's checkpoint may record: every entry it numbered up to `through` is published
   * or never stored, except those listed in `open` (unknown outcomes, which may still land).
   */
  state(): { through: number; open: number[] } {
    let lowest = Infinity;
    const unknown: number[] = [];
    for (const [seq, item] of this.tracked) {
      if (item.stage === 'unknown') unknown.push(seq);
      else lowest = Math.min(lowest, seq);
    }
    unknown.sort((a, b) => a - b);
    const overflow = unknown.length - MAX_OPEN;
    if (overflow > 0) lowest = Math.min(lowest, unknown[overflow - 1] ?? Infinity);
    const through = lowest === Infinity ? this.seq : lowest - 1;
    return { through, open: unknown.filter((seq) => seq <= through) };
  }

  backlog(): OutboxBacklog {
    let pending = 0;
    let unknownOutcome = 0;
    let oldest = Infinity;
    for (const item of this.tracked.values()) {
      if (item.stage === 'saving') continue;
      pending += 1;
      if (item.stage === 'unknown') unknownOutcome += 1;
      oldest = Math.min(oldest, item.since);
    }
    return { pending, unknownOutcome, oldestPendingAt: oldest === Infinity ? undefined : new Date(oldest) };
  }

  /** Replaces the other relays' checkpoints with a fresh read. */
  setOthers(checkpoints: Checkpoints): void {
    const others = new Map(checkpoints);
    others.delete(this.instanceId);
    this.others = others;
  }
}
