import { Histogram, LAG_BUCKETS, LATENCY_BUCKETS, metricsRegistry, secondsSince } from './registry';

/** What became of one delivery of an event (see Listener). */
export type EventOutcome = 'acked' | 'retried' | 'poison';

export const eventHandlingDuration = new Histogram({
  name: 'event_handling_duration_seconds',
  help:
    'Deliveries handled by a listener, by subject, queue group and outcome: acked (effect stored), ' +
    'retried (left unacked for redelivery: a failure or an event from the future), poison (unreadable, acked)',
  labelNames: ['subject', 'queue_group', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

export const eventLag = new Histogram({
  name: 'event_lag_seconds',
  help: "From an event's publication (its envelope's time) to a listener acking it, by subject and queue group",
  labelNames: ['subject', 'queue_group'] as const,
  buckets: LAG_BUCKETS,
  registers: [metricsRegistry],
});

export const replicaApplyLag = new Histogram({
  name: 'replica_apply_lag_seconds',
  help:
    "From an owner's event (its time) to the change being applied to this service's replica " +
    '(orders: tickets, payments: orders); duplicates and stale events are not counted',
  labelNames: ['replica', 'subject'] as const,
  buckets: LAG_BUCKETS,
  registers: [metricsRegistry],
});

/** Records that a replica applied an event published at `publishedAt` (the MessageContext's). */
export function observeReplicaApplied(replica: string, subject: string, publishedAt: Date | undefined): void {
  if (publishedAt === undefined) return;
  replicaApplyLag.observe({ replica, subject }, secondsSince(publishedAt.getTime()));
}
