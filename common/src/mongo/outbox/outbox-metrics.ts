import { Gauge, metricsRegistry } from '../../metrics';
import type { OutboxBacklog } from './ledger';

/** The relays running in this process (one per service; tests may start several). */
const running = new Set<{ backlog(): OutboxBacklog }>();

export function trackRelay(relay: { backlog(): OutboxBacklog }): () => void {
  running.add(relay);
  return () => running.delete(relay);
}

function backlogs(): OutboxBacklog[] {
  return [...running].map((relay) => relay.backlog());
}

// Read at scrape time from the relays' own bookkeeping (no database query per scrape).
new Gauge({
  name: 'outbox_pending_entries',
  help: 'Outbox entries this process stored (or may have stored) and not yet published',
  registers: [metricsRegistry],
  collect() {
    this.set(backlogs().reduce((sum, b) => sum + b.pending, 0));
  },
});

new Gauge({
  name: 'outbox_unknown_outcome_entries',
  help: 'Of the pending entries, those whose save had an unknown outcome (a lost database reply)',
  registers: [metricsRegistry],
  collect() {
    this.set(backlogs().reduce((sum, b) => sum + b.unknownOutcome, 0));
  },
});

new Gauge({
  name: 'outbox_oldest_pending_age_seconds',
  help: 'Age of the oldest pending outbox entry (0 when none is pending)',
  registers: [metricsRegistry],
  collect() {
    const oldest = Math.min(...backlogs().map((b) => b.oldestPendingAt?.getTime() ?? Infinity));
    this.set(oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest) / 1000);
  },
});
