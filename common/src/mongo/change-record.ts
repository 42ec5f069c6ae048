import { VersionConflictError } from '../errors';
import { runExclusive } from './run-exclusive';

/** What a decision function says about one fresh copy of a record. */
export interface Decision<R> {
  outcome: R;
  /** True when the decision changed the document (and staged its event): it must be committed. */
  changed: boolean;
}

export interface RecordChange<D, R> {
  /** Serialises the changes of one record within this process (see runExclusive). */
  key: string;
  /** Reads the latest stored copy; null when there is no such record. */
  load: () => Promise<D | null>;
  /** Decides on the fresh copy, changing it in place; null makes the record count as absent. */
  decide: (doc: D) => Decision<R> | null | Promise<Decision<R> | null>;
  /** Stores the change (with its staged event): a relay's commit. */
  commit: (doc: D) => Promise<unknown>;
  maxAttempts?: number;
}

export const MAX_CHANGE_ATTEMPTS = 5;

/**
 * The reload-decide-commit loop every owner of a versioned record runs: read the latest copy,
 * decide, and store the change guarded by its version. When another process saved first the save
 * fails with VersionConflictError, and the record is read again and the decision taken again on
 * top of the other write, so neither is lost. Past the last attempt the conflict propagates: a route
 * answers 409, a listener leaves its event for redelivery. Returns the record as stored with the
 * decision's outcome, or null when there is no such record.
 */
export function changeRecord<D, R>(change: RecordChange<D, R>): Promise<{ doc: D; outcome: R } | null> {
  const maxAttempts = change.maxAttempts ?? MAX_CHANGE_ATTEMPTS;
  return runExclusive(change.key, async () => {
    for (let attempt = 1; ; attempt += 1) {
      const doc = await change.load();
      if (doc === null) return null;
      const decision = await change.decide(doc);
      if (decision === null) return null;
      if (!decision.changed) return { doc, outcome: decision.outcome };
      try {
        await change.commit(doc);
        return { doc, outcome: decision.outcome };
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= maxAttempts) throw err;
      }
    }
  });
}
