import {
  Listener,
  OrderStatus,
  Subjects,
  observeReplicaApplied,
  type MessageContext,
  type OrderCompletedEvent,
} from '@ticketing/common';
import { applyOrderEvent } from '../../models/order';
import { QUEUE_GROUP_NAME } from './queue-group';

/** The order is paid for (by our payment:created): no further payment is accepted. */
export class OrderCompletedListener extends Listener<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: OrderCompletedEvent['data'], ctx?: MessageContext): Promise<void> {
    const outcome = await applyOrderEvent(data, (order) => order.set('status', OrderStatus.Complete));
    if (outcome === 'applied') observeReplicaApplied('orders', this.subject, ctx?.publishedAt);
  }
}
