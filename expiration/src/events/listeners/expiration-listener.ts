import { Listener, type Bus, type BusEvent, type ListenerOptions, type Logger } from '@ticketing/common';
import type { ExpirationQueue } from '../../queues/expiration-queue';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * What every expiration listener shares: the service's queue group and the queue of expiry jobs it
 * acts on. Each subclass names its subject and says what the event does to the queue.
 */
export abstract class ExpirationListener<E extends BusEvent> extends Listener<E> {
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    protected readonly expirations: ExpirationQueue,
    opts?: ListenerOptions,
  ) {
    super(bus, logger, opts);
  }
}
