import mongoose, { type Schema } from 'mongoose';
import { VersionConflictError } from '../errors';
import { serverProfile, type FieldConditions, type UpdateIfVersionOptions } from './server-profile';

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
 * Applies `update` to record `id` only if its stored version is `expected`, guarded as the plugin's
 * saves are (see ServerProfile: the version in the update's filter where conditional writes are
 * atomic, a read by _id first where they are not). Resolves true when it was applied. For replicas
 * that apply an event with one update instead of load-and-save.
 */
export async function updateIfVersion<T>(
  model: mongoose.Model<T>,
  id: string,
  expected: number,
  update: mongoose.UpdateQuery<T>,
  opts: UpdateIfVersionOptions = {},
): Promise<boolean> {
  return (await serverProfile(model.db)).updateIfVersion(model, id, expected, update, opts);
}

/**
 * Deletes record `id` only if its stored version is `expected` and it meets `also` (see
 * FieldConditions), guarded as the saves are. Resolves true when it was deleted.
 */
export async function deleteIfVersion<T>(
  model: mongoose.Model<T>,
  id: unknown,
  expected: number,
  also: FieldConditions = {},
): Promise<boolean> {
  return (await serverProfile(model.db)).deleteIfVersion(model, id, expected, also);
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
 * or, where conditional writes are not atomic, checks it by reading the stored version by _id first
 * (the guard is the connection's ServerProfile's).
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
    if (!(await (await serverProfile(model.db)).guardSave(this, expected))) {
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
    return (await serverProfile(this.db)).findAtVersion(this, event.id, event.version - 1);
  });
}
