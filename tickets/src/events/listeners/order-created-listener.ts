import { RelayListener, Subjects, type OrderCreatedEvent } from '@ticketing/common';
import { QUEUE_GROUP_NAME } from './queue-group';
import { recordOrder } from './record-order';

/**
 * A new order holds the ticket (orderId set, version bumped, ticket:updated out) unless its own
 * cancellation or a completed order was heard of first; see recordOrder. Sellers cannot edit a
 * held ticket.
 */
export class OrderCreatedListener extends RelayListener<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: OrderCreatedEvent['data']): Promise<void> {
    await recordOrder(this.relay, this.log, data.ticket.id, {
      id: data.id,
      status: data.status,
      version: data.version,
      expiresAt: new Date(data.expiresAt),
    });
  }
}
