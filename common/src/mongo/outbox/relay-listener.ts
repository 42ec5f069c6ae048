import type { Logger } from 'pino';
import type { Bus } from '../../events/bus';
import type { BusEvent } from '../../events/events';
import { Listener, type ListenerOptions } from '../../events/listener';
import type { OutboxRelay } from './relay';

/**
 * A listener whose handler changes documents of its service and stores them, with the events the
 * change causes, through the service's outbox relay (`this.relay.commit`). Subclasses name their
 * subject and queue group and decide the change.
 */
export abstract class RelayListener<E extends BusEvent> extends Listener<E> {
  constructor(
    bus: Bus,
    logger: Logger,
    protected readonly relay: OutboxRelay,
    opts: ListenerOptions = {},
  ) {
    super(bus, logger, opts);
  }
}
