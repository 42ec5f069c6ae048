import {
  Listener,
  Subjects,
  type ListenerOptions,
  type Logger,
  type Bus,
  type OrderCreatedEvent,
} from '@ticketing/common';
import type { ExpirationQueue } from '../../queues/expiration-queue';
import { QUEUE_GROUP_NAME } from './queue-group';

/** Schedules the order's expiry at its expiresAt; the job id is the order id, so a redelivery adds nothing. */
export class OrderCreatedListener extends Listener<OrderCreatedEvent> {
  readonly subject = Subjects.OrderCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly expirations: ExpirationQueue,
    opts?: ListenerOptions,
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCreatedEvent['data']): Promise<void> {
    // Acked only once Redis stored the job: if Redis is away, add() rejects and the event comes back.
    await this.expirations.schedule(data.id, new Date(data.expiresAt));
  }
}
