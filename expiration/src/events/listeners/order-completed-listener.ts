import { Subjects, type OrderCompletedEvent } from '@ticketing/common';
import { ExpirationListener } from './expiration-listener';

/**
 * A paid order must not expire: drop its job if it has not fired yet. (If it already fired, the
 * orders service ignores expiration:complete for a complete order.)
 */
export class OrderCompletedListener extends ExpirationListener<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;

  async onMessage(data: OrderCompletedEvent['data']): Promise<void> {
    await this.expirations.cancel(data.id);
  }
}
