import { RelayListener, Subjects, type ExpirationCompleteEvent } from '@ticketing/common';
import { cancelOrder } from '../../services/order-lifecycle';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * The order's time is up: cancel it if it still holds its ticket. A cancelled or complete order is
 * left as it is, so a second delivery changes nothing and publishes nothing.
 */
export class ExpirationCompleteListener extends RelayListener<ExpirationCompleteEvent> {
  readonly subject = Subjects.ExpirationComplete;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: ExpirationCompleteEvent['data']): Promise<void> {
    const result = await cancelOrder(this.relay, data.orderId);
    if (result === null) {
      // Expiration only learns of orders from our order:created, so this cannot become valid later.
      this.log.warn({ orderId: data.orderId }, 'expiration:complete for an unknown order ignored');
      return;
    }
    this.log.info({ orderId: data.orderId, outcome: result.outcome }, 'order expired');
  }
}
