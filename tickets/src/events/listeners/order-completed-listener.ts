import { RelayListener, OrderStatus, Subjects, type OrderCompletedEvent } from '@ticketing/common';
import { QUEUE_GROUP_NAME } from './queue-group';
import { recordOrder } from './record-order';

/**
 * A paid order holds the ticket for good: `sold` is set with orderId, so the ticket is never listed,
 * edited or held by anyone else again, whatever arrives later. See recordOrder.
 */
export class OrderCompletedListener extends RelayListener<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: OrderCompletedEvent['data']): Promise<void> {
    await recordOrder(this.relay, this.log, data.ticket.id, {
      id: data.id,
      status: OrderStatus.Complete,
      version: data.version,
    });
  }
}
