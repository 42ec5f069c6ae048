import { fromCents } from '../money';

export interface ApiJsonOptions {
  /** A field stored in integer cents and shown as a decimal: [stored name, shown name]. */
  cents?: [stored: string, shown: string];
  /** Internal fields never shown to clients. */
  hide?: readonly string[];
}

/**
 * The API view every model shares, for use in a schema's toJSON transform: `id` (a string) instead
 * of `_id`, a price in cents shown as a decimal, internal fields and the outbox removed.
 */
export function apiJson(ret: Record<string, unknown>, opts: ApiJsonOptions = {}): Record<string, unknown> {
  ret['id'] = String(ret['_id']);
  delete ret['_id'];
  if (opts.cents !== undefined) {
    const [stored, shown] = opts.cents;
    const cents = ret[stored] as number;
    delete ret[stored];
    ret[shown] = fromCents(cents);
  }
  for (const field of [...(opts.hide ?? []), 'outbox']) delete ret[field];
  return ret;
}
