import { RelayListener, OrderStatus, Subjects, type OrderCancelledEvent } from '@ticketing/common';
import { QUEUE_GROUP_NAME } from './queue-group';
import { recordOrder } from './record-order';

/**
 * A cancelled order never holds the ticket: if it was the holder, the ticket is released (orderId
 * unset) or passes to another active order heard of meanwhile; if its order:created comes later,
 * that event is older news and reserves nothing. See recordOrder.
 */
export class OrderCancelledListener extends RelayListener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: OrderCancelledEvent['data']): Promise<void> {
    await recordOrder(this.relay, this.log, data.ticket.id, {
      id: data.id,
      status: OrderStatus.Cancelled,
      version: data.version,
    });
  }
}
