import mongoose from 'mongoose';
import type { OutboxDocument, OutboxEntry } from './entry';

/** The collection (in each service's database) holding one checkpoint per relay instance. */
export const OUTBOX_CHECKPOINTS = 'outbox_checkpoints';

/**
 * A relay instance's progress: every entry it committed with seq <= through has been published or
 * was never stored, except the sequence numbers in `open` (saves with an unknown outcome: they may
 * have been stored, or may still be, so whoever finds one publishes it).
 */
export interface OutboxCheckpoint {
  _id: string;
  through: number;
  open?: number[];
  /** The last write; a live relay rewrites it at least every heartbeat. */
  at: Date;
  /** The collections the relay commits to (the removal of its checkpoint needs them all read). */
  collections?: string[];
  /** Set by a relay that stopped cleanly. */
  stoppedAt?: Date;
}

/** What one checkpoint vouches for. */
export interface Covered {
  through: number;
  open: ReadonlySet<number>;
}

/** Relay id → what its checkpoint vouches for. */
export type Checkpoints = ReadonlyMap<string, Covered>;

/** Whether `entry` is vouched for as published by the checkpoints. */
export function coveredBy(checkpoints: Checkpoints, entry: OutboxEntry): boolean {
  if (entry.relay === undefined || entry.seq === undefined) return false;
  const covered = checkpoints.get(entry.relay);
  return covered !== undefined && entry.seq <= covered.through && !covered.open.has(entry.seq);
}

/** A service's database: a mongoose connection or the driver's handle (tests, the bench). */
export type OutboxDatabase = mongoose.Connection | mongoose.mongo.Db;

function nativeDb(source: OutboxDatabase): mongoose.mongo.Db {
  if (!(source instanceof mongoose.Connection)) return source;
  if (source.db === undefined) throw new Error('the database is not connected');
  return source.db;
}

export function checkpointCollection(source: OutboxDatabase): mongoose.mongo.Collection<OutboxCheckpoint> {
  return nativeDb(source).collection<OutboxCheckpoint>(OUTBOX_CHECKPOINTS);
}

export function readCheckpointRows(source: OutboxDatabase): Promise<OutboxCheckpoint[]> {
  return checkpointCollection(source).find({}).toArray();
}

export function toCheckpoints(rows: readonly OutboxCheckpoint[]): Map<string, Covered> {
  return new Map(rows.map((row) => [row._id, { through: row.through, open: new Set(row.open ?? []) }]));
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
  const checkpoints = toCheckpoints(await readCheckpointRows(source));
  const docs = await nativeDb(source)
    .collection<OutboxDocument>(collection)
    .find({ ...filter, 'outbox.0': { $exists: true } }, { projection: { outbox: 1 } })
    .toArray();
  let count = 0;
  for (const doc of docs) for (const entry of doc.outbox) if (!coveredBy(checkpoints, entry)) count += 1;
  return count;
}

export interface GoneRelayRule {
  /** The sweeping relay (never removed by itself). */
  self: string;
  /** The collections the sweep read completely. */
  collections: readonly string[];
  /** Relays whose entries the sweep found on documents. */
  seen: ReadonlySet<string>;
  /** A checkpoint not rewritten for this long belongs to a relay that is gone (crashed). */
  staleAfterMs: number;
}

/**
 * Removes the checkpoints of relays that are gone (stopped, or silent for staleAfterMs) once no
 * document holds an entry of theirs: nothing is left for them to vouch for. An entry of theirs that
 * lands later (a save whose reply was lost) has no checkpoint, so it counts as unpublished and the
 * next sweep publishes it. The filter on `at` leaves a checkpoint alone that was rewritten meanwhile
 * (a relay thought dead that was only slow). Returns the ids removed.
 */
export async function removeGoneCheckpoints(
  source: OutboxDatabase,
  rows: readonly OutboxCheckpoint[],
  rule: GoneRelayRule,
): Promise<string[]> {
  const now = Date.now();
  const removed: string[] = [];
  for (const row of rows) {
    if (row._id === rule.self || rule.seen.has(row._id)) continue;
    const gone = row.stoppedAt !== undefined || now - new Date(row.at).getTime() > rule.staleAfterMs;
    // A checkpoint written before relays recorded their collections counts as this database's.
    const allRead = (row.collections ?? []).every((name) => rule.collections.includes(name));
    if (!gone || !allRead) continue;
    const result = await checkpointCollection(source).deleteOne({ _id: row._id, at: row.at });
    if (result.deletedCount > 0) removed.push(row._id);
  }
  return removed;
}
