import { Subjects, type OrderCancelledEvent } from '@ticketing/common';
import { ExpirationListener } from './expiration-listener';

/** A cancelled order needs no expiry: drop its job if it has not fired yet. */
export class OrderCancelledListener extends ExpirationListener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;

  async onMessage(data: OrderCancelledEvent['data']): Promise<void> {
    await this.expirations.cancel(data.id);
  }
}
