import type { Logger } from 'pino';
import type { Bus } from '../../events/bus';
import type { AnyModel } from './entry';

export interface OutboxRelayOptions {
  bus: Bus;
  models: AnyModel[];
  logger: Logger;
  /** Sweep interval while something is left to publish (1 s) and otherwise (30 s). */
  retryIntervalMs?: number;
  idleIntervalMs?: number;
  /** Published entries are pulled off their documents once no commit has run for this long (250 ms). */
  tidyIdleMs?: number;
  /** The checkpoint is rewritten at least this often while the relay runs (30 s)... */
  heartbeatMs?: number;
  /** ...and a checkpoint not rewritten for this long belongs to a crashed relay (10 min). */
  staleAfterMs?: number;
}

export type RelaySettings = Required<OutboxRelayOptions>;

export function withDefaults(opts: OutboxRelayOptions): RelaySettings {
  return {
    retryIntervalMs: 1_000,
    idleIntervalMs: 30_000,
    tidyIdleMs: 250,
    heartbeatMs: 30_000,
    // Twenty heartbeats: a checkpoint is not taken for dead over a slow database or a long GC pause
    // (and if it were, the cost is re-publishing, never a loss).
    staleAfterMs: 600_000,
    ...opts,
  };
}
