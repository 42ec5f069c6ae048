import {
  Listener,
  Subjects,
  type Bus,
  type ListenerOptions,
  type Logger,
  type OrderCreatedEvent,
  type OutboxRelay,
} from '@ticketing/common';
import { changeTicket } from '../../models/change-ticket';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * Reserves the ticket for the new order: sets orderId, which bumps the ticket's version and
 * publishes ticket:updated, so the orders replica follows (a replica left one version behind
 * would refuse every later update). Sellers cannot edit a reserved ticket.
 */
export class OrderCreatedListener extends Listener<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly relay: OutboxRelay,
    opts: ListenerOptions = {},
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCreatedEvent['data']): Promise<void> {
    const ticket = await changeTicket(this.relay, data.ticket.id, (t) => {
      // A redelivery of an event already applied: nothing to do and, above all, no second event.
      if (t.orderId === data.id) return false;
      if (t.cancelledOrderIds.includes(data.id)) {
        this.log.info({ ticketId: data.ticket.id, orderId: data.id }, 'order:created after its cancellation; ignored');
        return false;
      }
      if (t.orderId !== undefined) {
        // The orders service reserves atomically, so this means the two services disagree. Acking
        // is deliberate: redelivering would loop forever without ever changing the outcome.
        this.log.error(
          { ticketId: data.ticket.id, orderId: data.id, heldBy: t.orderId },
          'order:created for a ticket another order holds; ignored',
        );
        return false;
      }
      t.set('orderId', data.id);
      return true;
    });
    if (ticket === null) {
      this.log.error({ ticketId: data.ticket.id, orderId: data.id }, 'order:created for an unknown ticket; ignored');
    }
  }
}
