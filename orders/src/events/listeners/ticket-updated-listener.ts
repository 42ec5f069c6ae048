import {
  Listener,
  Subjects,
  observeReplicaApplied,
  type Bus,
  type ListenerOptions,
  type Logger,
  type MessageContext,
  type TicketUpdatedEvent,
} from '@ticketing/common';
import { ticketSequencer } from '../ticket-sequencer';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * Applies version N of a ticket only on top of N-1 (see events/version-sequencer.ts): a duplicate or
 * older event resolves (acked and ignored); an event from the future waits in memory for its
 * predecessor and, if that does not come within the hold time, throws RetryLaterError (left unacked,
 * redelivered after the ack wait).
 */
export class TicketUpdatedListener extends Listener<TicketUpdatedEvent> {
  readonly subject = Subjects.TicketUpdated;
  readonly queueGroupName = QUEUE_GROUP_NAME;
  /**
   * Events from the future stay unacked while they wait, and the server delivers nothing new while
   * maxInFlight messages are unacked: with a small window full of future events, the predecessor they
   * wait for would never be delivered and the replica would stall. The window must hold the worst
   * reordering we expect; a thousand small messages cost little memory.
   */
  protected override maxInFlight = 1_000;
  /** How long a future event waits in memory before it is left for redelivery. */
  private readonly holdMs: number;

  constructor(bus: Bus, logger: Logger, opts: ListenerOptions = {}) {
    super(bus, logger, opts);
    // Give up before the server redelivers, so one message is not held twice at once.
    this.holdMs = Math.floor(Math.max(1_000, opts.ackWaitMs ?? this.ackWaitMs) * 0.75);
  }

  async onMessage(data: TicketUpdatedEvent['data'], ctx?: MessageContext): Promise<void> {
    const outcome = await ticketSequencer.submit(data, this.holdMs);
    if (outcome === 'applied') observeReplicaApplied('tickets', this.subject, ctx?.publishedAt);
    if (outcome === 'stale')
      this.log.debug({ ticketId: data.id, version: data.version }, 'stale ticket:updated ignored');
  }
}
