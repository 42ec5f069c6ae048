import { randomUUID } from 'node:crypto';
import mongoose, { Schema, type Model } from 'mongoose';
import type { Bus } from '../../events/bus';
import type { EventData } from '../../events/events';
import type { Subjects } from '../../events/subjects';
import { VersionConflictError, isDuplicateKeyError } from '../../errors';
import { currentRequestId } from '../../log';

/**
 * What a document carries: its pending events (the outbox entries), staged by the code that changes
 * it and written by the same single-document save. See relay.ts for how they are published.
 */
export interface OutboxEntry {
  id: string;
  subject: Subjects;
  data: unknown;
  requestId?: string;
  createdAt: Date;
  /** The relay instance that committed the entry and its sequence number there. */
  relay?: string;
  seq?: number;
}

export interface WithOutbox {
  outbox: OutboxEntry[];
}

/** What the relay reads and writes of a document: its id and its outbox. */
export interface OutboxDocument {
  _id: mongoose.Types.ObjectId;
  outbox: OutboxEntry[];
}

// The relay works with several models of different document types; it only touches `outbox`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous list of models
export type AnyModel = Model<any>;

/** Generic for the same reason as versionPlugin: it must fit typed schemas. */
export function outboxPlugin<DocType, TModel>(typedSchema: Schema<DocType, TModel>): void {
  const schema = typedSchema as unknown as Schema;
  // Plain values, not subdocuments: the entries are written only by this module (stageEvent and the
  // relay), never from user input, and always replaced as a whole list. A subdocument array made
  // Mongoose build, cast, validate and track every entry: about a third of a commit's CPU.
  schema.add({ outbox: { type: [Schema.Types.Mixed], default: [] } });
}

/** Hides the outbox from API responses (services call this from their toJSON transform). */
export function stripOutbox(ret: Record<string, unknown>): void {
  delete ret['outbox'];
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

/**
 * Removes exactly this entry from the document. $pull of the whole stored value (as read, so it
 * compares equal) does nothing if another relay removed it first and never touches a newer entry.
 * The filter is the bare _id on purpose: FerretDB scans the whole collection for any filter with
 * more than _id in it, while a conditional $pull is not supported there at all. The driver's
 * collection, not the model: mongoose would re-cast the entry.
 */
export async function pullEntry(model: AnyModel, id: unknown, entry: OutboxEntry): Promise<void> {
  const pull: mongoose.mongo.UpdateFilter<OutboxDocument> = { $pull: { outbox: entry } };
  const collection = model.collection as unknown as mongoose.mongo.Collection<OutboxDocument>;
  await collection.updateOne({ _id: id as mongoose.Types.ObjectId }, pull);
}

/**
 * pullEntry for several documents of one model in one bulk write (unordered: each pull succeeds or
 * fails on its own), each by bare _id as pullEntry does, so FerretDB looks each document up by key.
 */
export async function pullEntries(
  model: AnyModel,
  items: ReadonlyArray<{ id: unknown; entries: readonly OutboxEntry[] }>,
): Promise<void> {
  const ops = items.flatMap(({ id, entries }) =>
    entries.map((entry) => ({
      updateOne: {
        filter: { _id: id as mongoose.Types.ObjectId },
        update: { $pull: { outbox: entry } },
      },
    })),
  );
  if (ops.length === 0) return;
  const collection = model.collection as unknown as mongoose.mongo.Collection<OutboxDocument>;
  await collection.bulkWrite(ops, { ordered: false });
}

/** Errors of a save that prove nothing was written (so its entries never existed). */
export function wroteNothing(err: unknown): boolean {
  if (err instanceof mongoose.Error.ValidationError || err instanceof VersionConflictError) return true;
  return isDuplicateKeyError(err);
}

/** Publishes the entry's event with its own id, time and request id (stable across re-publishes). */
export async function publishEntry(bus: Bus, entry: OutboxEntry): Promise<void> {
  await bus.publish(entry.subject, entry.data, {
    id: entry.id,
    time: new Date(entry.createdAt).toISOString(),
    ...(entry.requestId === undefined ? {} : { requestId: entry.requestId }),
  });
}
