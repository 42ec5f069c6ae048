import {
  Listener,
  Subjects,
  type Bus,
  type ListenerOptions,
  type Logger,
  type OrderCancelledEvent,
  type OutboxRelay,
} from '@ticketing/common';
import { changeTicket } from '../../models/change-ticket';
import { Ticket } from '../../models/ticket';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * Releases the ticket when the order holding it is cancelled: orderId is unset (not set to null),
 * the version bumps and ticket:updated goes out without an orderId, so the ticket is for sale again.
 */
export class OrderCancelledListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly relay: OutboxRelay,
    opts: ListenerOptions = {},
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCancelledEvent['data']): Promise<void> {
    const ticket = await changeTicket(this.relay, data.ticket.id, async (t) => {
      // Only the holder's cancellation releases the ticket: a duplicate, or the cancellation of
      // another order, must not free a ticket someone else holds.
      if (t.orderId !== data.id) {
        this.log.info(
          { ticketId: data.ticket.id, orderId: data.id, heldBy: t.orderId },
          'order:cancelled for an order that does not hold the ticket; remembered, ticket unchanged',
        );
        // Remember it without a version bump (nothing the replicas see changes), still inside the
        // ticket's lock so a concurrent order:created of this order cannot slip in between.
        if (!t.cancelledOrderIds.includes(data.id)) {
          await Ticket.updateOne({ _id: t._id }, { $push: { cancelledOrderIds: data.id } });
        }
        return false;
      }
      t.set('orderId', undefined);
      return true;
    });
    if (ticket === null) {
      this.log.error({ ticketId: data.ticket.id, orderId: data.id }, 'order:cancelled for an unknown ticket; ignored');
    }
  }
}
