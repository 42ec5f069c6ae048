import {
  Listener,
  Subjects,
  insertGrouped,
  isDuplicateKeyError,
  observeReplicaApplied,
  toCents,
  type MessageContext,
  type OrderCreatedEvent,
} from '@ticketing/common';
import { Order } from '../../models/order';
import { QUEUE_GROUP_NAME } from './queue-group';

/** Adds the order to the replica, with the price it was created with (in cents) and its expiry. */
export class OrderCreatedListener extends Listener<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: OrderCreatedEvent['data'], ctx?: MessageContext): Promise<void> {
    try {
      // Shares one insert with the other orders arriving meanwhile (group commit, see insertGrouped).
      await insertGrouped(
        new Order({
          _id: data.id,
          userId: data.userId,
          status: data.status,
          priceCents: toCents(data.ticket.price),
          expiresAt: new Date(data.expiresAt),
          version: data.version,
        }),
      );
      observeReplicaApplied('orders', this.subject, ctx?.publishedAt);
    } catch (err) {
      // Already in the replica: a redelivery, acked and ignored.
      if (isDuplicateKeyError(err)) return;
      throw err;
    }
  }
}
