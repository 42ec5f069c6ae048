import {
  Listener,
  Subjects,
  type Bus,
  type BusEvent,
  type ListenerOptions,
  type Logger,
  type TicketCreatedEvent,
  type TicketUpdatedEvent,
} from '@ticketing/common';
import type { TicketListing } from '../../services/listing';

/** The two listing listeners: every replica, their own queue name, the listing they keep current. */
abstract class ListingListener<E extends BusEvent> extends Listener<E> {
  readonly queueGroupName = 'tickets-listing';
  protected override readonly everyReplica: boolean = true;

  constructor(
    bus: Bus,
    logger: Logger,
    protected readonly listing: TicketListing,
    opts: ListenerOptions = {},
  ) {
    super(bus, logger, opts);
  }
}

/**
 * Keep this replica's listing current with the changes other replicas of this service store: every
 * replica hears every ticket event (no queue group). Its own changes reach the listing before their
 * events, and the version check makes the echo a no-op.
 */
export class ListingTicketCreatedListener extends ListingListener<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
  onMessage(data: TicketCreatedEvent['data']): Promise<void> {
    this.listing.apply({ id: data.id, version: data.version, forSale: true });
    return Promise.resolve();
  }
}

export class ListingTicketUpdatedListener extends ListingListener<TicketUpdatedEvent> {
  readonly subject = Subjects.TicketUpdated;
  onMessage(data: TicketUpdatedEvent['data']): Promise<void> {
    const forSale = data.orderId === undefined && data.sold !== true;
    this.listing.apply({ id: data.id, version: data.version, forSale });
    return Promise.resolve();
  }
}
