import type mongoose from 'mongoose';

/**
 * Everything the services need to know about the database server behind a connection, in one place.
 *
 * Production runs MongoDB 7; the tests, `npm start` and the bench run FerretDB 1.24 on SQLite, which
 * speaks the same wire protocol but behaves differently in a few ways that matter. The profile is
 * chosen once per connection by asking the server (`buildInfo`; connectMongo asks at connect time)
 * and offers what differs as named capabilities and as the few operations whose best implementation
 * differs, the MongoDB and FerretDB versions side by side below. Models, services and listeners call
 * these and name no server.
 *
 * What differs (docs/infrastructure.md has the same list with where each is tested):
 * - conditional writes: MongoDB checks an update's or delete's filter and writes the document in one
 *   atomic step (a single-document write is atomic, and a version in the filter is MongoDB's
 *   documented optimistic concurrency control). FerretDB reads the matching document, then
 *   rewrites it by _id without checking the filter again: two writes guarded by one version can
 *   both succeed. See `atomicConditionalWrites`; services serialise the changes of one record
 *   within a process (runExclusive) so that one instance is correct on both.
 * - filters: MongoDB answers any indexed filter from its index. FerretDB pushes down only a bare
 *   `_id` equality; any other filter (`{ _id, version }`, `{ _id: { $in } }` as populate sends, a
 *   secondary index) decodes the whole collection. See `indexedFilters`; the version guard below
 *   and the services' reads by _id (then checking in code) follow from it.
 * - a duplicate-key error from FerretDB does not say which unique index refused the write
 *   (MongoDB's names it in keyPattern): callers with two unique indexes ask which one it was.
 * - FerretDB has no partial and no TTL indexes: the models use what both servers have (orders'
 *   ticketLock, a unique field moved out of the way, instead of a partial index; auth keeps expired
 *   revocations instead of a TTL index dropping them).
 * - a FerretDB update rewrites the whole stored document, so two overlapping updates of one
 *   document can undo each other: the outbox relay never overlaps two writes of one document.
 * - a write that waited too long for FerretDB's SQLite lock fails with a transient error that
 *   common's error mapping answers with 503, as it does a MongoDB primary stepping down.
 */
export interface ServerProfile {
  /** For logs and docs only: code asks the capabilities, never the name. */
  readonly server: 'mongodb' | 'ferretdb';
  /** An update or delete whose filter names more than _id checks it and writes in one atomic step. */
  readonly atomicConditionalWrites: boolean;
  /** A filter other than a bare `_id` equality is answered from an index (false: a collection scan). */
  readonly indexedFilters: boolean;

  /**
   * Guards the pending save of `doc` on its stored version being `expected`. False when the stored
   * version is known to differ already; otherwise the save itself fails (DocumentNotFoundError) if
   * the version changed before it landed.
   */
  guardSave(doc: mongoose.Document<unknown>, expected: number): Promise<boolean>;
  /** See updateIfVersion in version-plugin.ts. */
  updateIfVersion<T>(
    model: mongoose.Model<T>,
    id: unknown,
    expected: number,
    update: mongoose.UpdateQuery<T>,
    opts: UpdateIfVersionOptions,
  ): Promise<boolean>;
  /** See deleteIfVersion in version-plugin.ts. */
  deleteIfVersion<T>(model: mongoose.Model<T>, id: unknown, expected: number, also: FieldConditions): Promise<boolean>;
  /** The record `id` if it is at `version`, else null. */
  findAtVersion<T>(
    model: mongoose.Model<T>,
    id: unknown,
    version: number,
  ): Promise<mongoose.HydratedDocument<T> | null>;
}

export interface UpdateIfVersionOptions {
  /**
   * The caller read the record by _id and found `expected`, and has awaited nothing since. Where
   * the guard is a read by _id (no atomic conditional writes), that read is the check, so the
   * update goes by _id at once; where the version is checked inside the write, it changes nothing.
   */
  versionJustRead?: boolean;
}

/**
 * Extra conditions of a guarded delete, on top-level fields: a value the field must equal, or
 * `{ $in: [...] }`. Kept that small on purpose so that every server can check it, in the filter or
 * on the document read by _id.
 */
export type FieldConditions = Record<string, string | number | boolean | { $in: ReadonlyArray<string | number> }>;

/** Whether `stored` meets `conditions` (see FieldConditions). */
export function meetsConditions(stored: Record<string, unknown>, conditions: FieldConditions): boolean {
  return Object.entries(conditions).every(([field, condition]) => {
    const value = stored[field];
    if (typeof condition === 'object') return (condition.$in as ReadonlyArray<unknown>).includes(value);
    return value === condition;
  });
}

/** The stored version of record `id`, read by bare _id (the one lookup every server indexes). */
async function storedVersion<T>(model: mongoose.Model<T>, id: unknown): Promise<number | undefined> {
  const stored = await model.findById(id).select({ version: 1 }).lean<{ version?: number }>();
  return stored?.version;
}

/**
 * MongoDB: the expected version goes into the write's filter, and the server checks and writes in
 * one atomic step; across any number of processes at most one of two writers guarded by the same
 * version succeeds.
 */
export const mongodbProfile: ServerProfile = {
  server: 'mongodb',
  atomicConditionalWrites: true,
  indexedFilters: true,
  guardSave(doc, expected) {
    // Mongoose merges document.$where into the filter of the save's update.
    doc.$where = { ...doc.$where, version: expected };
    return Promise.resolve(true);
  },
  async updateIfVersion<T>(model: mongoose.Model<T>, id: unknown, expected: number, update: mongoose.UpdateQuery<T>) {
    const filter = { _id: id, version: expected } as mongoose.RootFilterQuery<T>;
    return (await model.updateOne(filter, update)).matchedCount === 1;
  },
  async deleteIfVersion<T>(model: mongoose.Model<T>, id: unknown, expected: number, also: FieldConditions) {
    const filter = { ...also, _id: id, version: expected } as mongoose.RootFilterQuery<T>;
    return (await model.deleteOne(filter)).deletedCount === 1;
  },
  findAtVersion<T>(model: mongoose.Model<T>, id: unknown, version: number) {
    return model.findOne({ _id: id, version }).exec();
  },
};

/**
 * FerretDB: a filter beyond a bare _id scans the collection, and the conditional write would not
 * be atomic anyway (FerretDB itself reads the match, then rewrites by _id). So the profile does the
 * same without the scan: it reads the stored version by _id, checks it, and writes by bare _id.
 * The same guarantee as FerretDB's own conditional write; within a process, runExclusive keeps two
 * writers of one record from interleaving between the read and the write.
 */
export const ferretdbProfile: ServerProfile = {
  server: 'ferretdb',
  atomicConditionalWrites: false,
  indexedFilters: false,
  async guardSave(doc, expected) {
    return (await storedVersion(doc.constructor as mongoose.Model<unknown>, doc._id)) === expected;
  },
  async updateIfVersion<T>(
    model: mongoose.Model<T>,
    id: unknown,
    expected: number,
    update: mongoose.UpdateQuery<T>,
    opts: UpdateIfVersionOptions,
  ) {
    if (opts.versionJustRead !== true && (await storedVersion(model, id)) !== expected) return false;
    return (await model.updateOne({ _id: id }, update)).matchedCount === 1;
  },
  async deleteIfVersion<T>(model: mongoose.Model<T>, id: unknown, expected: number, also: FieldConditions) {
    const fields = Object.fromEntries(['version', ...Object.keys(also)].map((field) => [field, 1]));
    const stored = await model.findById(id).select(fields).lean<Record<string, unknown>>();
    if (stored === null || stored['version'] !== expected || !meetsConditions(stored, also)) return false;
    return (await model.deleteOne({ _id: id })).deletedCount === 1;
  },
  async findAtVersion<T>(model: mongoose.Model<T>, id: unknown, version: number) {
    const doc = await model.findById(id);
    return doc !== null && doc.get('version') === version ? doc : null;
  },
};

/** The profile a server's `buildInfo` answer calls for: FerretDB adds `ferretdbVersion` to it. */
export function profileFromBuildInfo(buildInfo: Record<string, unknown>): ServerProfile {
  return 'ferretdbVersion' in buildInfo ? ferretdbProfile : mongodbProfile;
}

const profiles = new WeakMap<mongoose.Connection, Promise<ServerProfile>>();

/**
 * The profile of a connection's server, asked once per connection (connectMongo asks right after
 * connecting; a connection opened otherwise, as tests and the bench do, asks on first use).
 */
export function serverProfile(connection: mongoose.Connection): Promise<ServerProfile> {
  let profile = profiles.get(connection);
  if (profile === undefined) {
    const db = connection.db;
    // Not connected yet: any write fails anyway, and nothing is remembered.
    if (db === undefined) return Promise.resolve(mongodbProfile);
    profile = db
      .admin()
      .command({ buildInfo: 1 })
      .then((info) => profileFromBuildInfo(info));
    // A failed probe is not remembered: the next use asks again.
    profile.catch(() => profiles.delete(connection));
    profiles.set(connection, profile);
  }
  return profile;
}

/** Sets a connection's profile instead of asking the server (tests run both implementations so). */
export function useServerProfile(connection: mongoose.Connection, profile: ServerProfile): void {
  profiles.set(connection, Promise.resolve(profile));
}
