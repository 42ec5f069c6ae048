import type { AnyModel } from './entry';

/** One document's key: for its in-process lock and the relay's per-document bookkeeping. */
export function documentKey(model: AnyModel, id: unknown): string {
  return `outbox:${model.modelName}:${String(id)}`;
}
