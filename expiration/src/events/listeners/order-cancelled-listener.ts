import {
  Listener,
  Subjects,
  type Bus,
  type ListenerOptions,
  type Logger,
  type OrderCancelledEvent,
} from '@ticketing/common';
import type { ExpirationQueue } from '../../queues/expiration-queue';
import { QUEUE_GROUP_NAME } from './queue-group';

/** A cancelled order needs no expiry: drop its job if it has not fired yet. */
export class OrderCancelledListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly expirations: ExpirationQueue,
    opts?: ListenerOptions,
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCancelledEvent['data']): Promise<void> {
    await this.expirations.cancel(data.id);
  }
}
