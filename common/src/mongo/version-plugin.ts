import mongoose, { type Schema } from 'mongoose';
import { VersionConflictError } from '../errors';

export interface Versioned {
  version: number;
}

export interface VersionPluginOptions {
  /**
   * owner: this service owns the record; every save that changes it increments `version` and
   * requires the stored version to be the one it loaded (a concurrent writer's save fails).
   * replica: `version` is the owner's, copied from events; a save that moves it from N-1 to N
   * requires the stored copy to be at N-1, and local-only changes leave it alone.
   */
  mode: 'owner' | 'replica';
}

/**
 * How a versioned save is guarded against a concurrent writer.
 * - 'filter' (MongoDB): the expected version is part of the update's filter; the server applies the
 *   update only if it still matches, atomically.
 * - 'read' (FerretDB): FerretDB evaluates any filter other than a bare `_id` by scanning the whole
 *   collection, and its conditional update is not atomic anyway: it reads the matching document, then
 *   rewrites it by `_id`. The plugin does the same itself, reading the stored version by `_id` (an
 *   indexed lookup) and saving by bare `_id`: the same guarantee without the scan. Within a process,
 *   services serialise the changes of one record (runExclusive), as they already did for FerretDB.
 */
export type VersionGuard = 'filter' | 'read';

const guards = new WeakMap<mongoose.Connection, Promise<VersionGuard>>();

/** The guard for a connection's server, asked once (buildInfo: FerretDB reports `ferretdbVersion`). */
export function guardOf(connection: mongoose.Connection): Promise<VersionGuard> {
  let guard = guards.get(connection);
  if (guard === undefined) {
    const db = connection.db;
    if (db === undefined) return Promise.resolve('filter'); // not connected yet: the save fails anyway
    guard = db
      .admin()
      .command({ buildInfo: 1 })
      .then((info): VersionGuard => ('ferretdbVersion' in info ? 'read' : 'filter'));
    // A failed probe is not remembered: the next save asks again.
    guard.catch(() => guards.delete(connection));
    guards.set(connection, guard);
  }
  return guard;
}

/** The 'read' guard's check: the stored record's version, read by bare _id (an indexed lookup). */
async function storedVersionIs<T>(model: mongoose.Model<T>, id: unknown, expected: number): Promise<boolean> {
  const stored = await model.findById(id).select({ version: 1 }).lean<{ version?: number }>();
  return stored?.version === expected;
}

/** Sets the guard for a connection instead of asking the server (tests run both guards this way). */
export function useVersionGuard(connection: mongoose.Connection, guard: VersionGuard): void {
  guards.set(connection, Promise.resolve(guard));
}

export interface UpdateIfVersionOptions {
  /**
   * The caller read the record by _id and found `expected`, and has awaited nothing since. On the
   * 'read' guard that read is the check (the guard's own read would repeat it, with the same gap
   * before the write), so the update goes by _id at once. The 'filter' guard ignores it.
   */
  versionJustRead?: boolean;
}

/**
 * Applies `update` to record `id` only if its stored version is `expected`, guarded as the plugin's
 * saves are (see VersionGuard): in the update's filter on MongoDB, by a read by _id first on
 * FerretDB. Resolves true when it was applied. For replicas that apply an event with one update
 * instead of load-and-save.
 */
export async function updateIfVersion<T>(
  model: mongoose.Model<T>,
  id: string,
  expected: number,
  update: mongoose.UpdateQuery<T>,
  opts: UpdateIfVersionOptions = {},
): Promise<boolean> {
  if ((await guardOf(model.db)) === 'filter') {
    const filter = { _id: id, version: expected } as mongoose.RootFilterQuery<T>;
    return (await model.updateOne(filter, update)).matchedCount === 1;
  }
  if (opts.versionJustRead !== true && !(await storedVersionIs(model, id, expected))) return false;
  return (await model.updateOne({ _id: id }, update)).matchedCount === 1;
}

/** Statics added by the plugin; a model's interface extends this. */
export interface VersionedStatics<TDoc> {
  /** The record an event at `version` applies to: the one at version - 1 (replicas). */
  findByEvent(event: { id: string; version: number }): Promise<TDoc | null>;
}

/**
 * Hand-written optimistic concurrency. Mongoose's own `__v` only guards arrays and its
 * `optimisticConcurrency` option cannot express the replica rule, so this plugin writes the version
 * condition into the save's filter itself (document.$where is merged into the update filter; an
 * update that matches nothing makes mongoose raise DocumentNotFoundError, turned here into a 409),
 * or, on FerretDB, checks it by reading the stored version by _id first (see VersionGuard).
 * Generic over the schema's types: a plugin typed with the bare `Schema` cannot be passed to
 * `plugin()` of a schema declared as `new Schema<Attrs, Model>(...)`.
 */
export function versionPlugin<DocType, TModel>(
  typedSchema: Schema<DocType, TModel>,
  options: VersionPluginOptions = { mode: 'owner' },
): void {
  // The plugin only touches the paths it adds itself, so it works on the untyped view.
  const schema = typedSchema as unknown as Schema;
  schema.add({ version: { type: Number, required: true, default: 0, min: 0 } });

  schema.pre('save', async function () {
    if (this.isNew) return;
    const current = this.get('version') as number;
    let expected: number;
    if (options.mode === 'owner') {
      if (!this.isModified()) return;
      expected = current;
      this.set('version', current + 1);
    } else if (this.isModified('version')) {
      expected = current - 1;
    } else {
      return;
    }
    const model = this.constructor as mongoose.Model<unknown>;
    if ((await guardOf(model.db)) === 'filter') {
      this.$where = { ...this.$where, version: expected };
      return;
    }
    if (!(await storedVersionIs(model, this._id, expected))) {
      if (options.mode === 'owner') this.set('version', current);
      throw new VersionConflictError(model.modelName);
    }
  });
  schema.post('save', function (err: unknown, _doc: unknown, next: (err?: Error) => void) {
    if (err instanceof mongoose.Error.DocumentNotFoundError) {
      // The in-memory copy is stale; undo our bump so a caller that reloads starts clean.
      if (options.mode === 'owner') this.set('version', (this.get('version') as number) - 1);
      next(new VersionConflictError((this.constructor as mongoose.Model<unknown>).modelName));
      return;
    }
    next(err instanceof Error ? err : undefined);
  });

  schema.static('findByEvent', async function (this: mongoose.Model<unknown>, event: { id: string; version: number }) {
    if ((await guardOf(this.db)) === 'filter') return this.findOne({ _id: event.id, version: event.version - 1 });
    // By bare _id (see VersionGuard), then the version: the same answer without a collection scan.
    const doc = await this.findById(event.id);
    return doc !== null && doc.get('version') === event.version - 1 ? doc : null;
  });
}
