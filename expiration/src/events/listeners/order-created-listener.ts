import { Subjects, type OrderCreatedEvent } from '@ticketing/common';
import { ExpirationListener } from './expiration-listener';

/** Schedules the order's expiry at its expiresAt; the job id is the order id, so a redelivery adds nothing. */
export class OrderCreatedListener extends ExpirationListener<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;

  async onMessage(data: OrderCreatedEvent['data']): Promise<void> {
    // Acked only once Redis stored the job: if Redis is away, add() rejects and the event comes back.
    await this.expirations.schedule(data.id, new Date(data.expiresAt));
  }
}
