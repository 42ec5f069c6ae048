import {
  Listener,
  Subjects,
  observeReplicaApplied,
  type MessageContext,
  type TicketCreatedEvent,
} from '@ticketing/common';
import { applyTicketCreated } from '../../models/ticket';
import { ticketSequencer } from '../ticket-sequencer';
import { QUEUE_GROUP_NAME } from './queue-group';

export class TicketCreatedListener extends Listener<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: TicketCreatedEvent['data'], ctx?: MessageContext): Promise<void> {
    const outcome = await applyTicketCreated(data);
    if (outcome === 'applied') observeReplicaApplied('tickets', this.subject, ctx?.publishedAt);
    // Updates that arrived first may be waiting for this ticket to exist.
    if (outcome === 'applied') ticketSequencer.poke(data.id);
    // A duplicate ticket:created returns normally: acked and ignored.
    else this.log.debug({ ticketId: data.id, version: data.version }, 'duplicate ticket:created ignored');
  }
}
