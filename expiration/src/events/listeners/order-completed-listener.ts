import {
  Listener,
  Subjects,
  type Bus,
  type ListenerOptions,
  type Logger,
  type OrderCompletedEvent,
} from '@ticketing/common';
import type { ExpirationQueue } from '../../queues/expiration-queue';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * A paid order must not expire: drop its job if it has not fired yet. (If it already fired, the
 * orders service ignores expiration:complete for a complete order.)
 */
export class OrderCompletedListener extends Listener<OrderCompletedEvent> {
  readonly subject = Subjects.OrderCompleted;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly expirations: ExpirationQueue,
    opts?: ListenerOptions,
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCompletedEvent['data']): Promise<void> {
    await this.expirations.cancel(data.id);
  }
}
