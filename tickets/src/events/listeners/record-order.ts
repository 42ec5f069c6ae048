import type { Logger, OutboxRelay } from '@ticketing/common';
import { changeTicket } from '../../models/change-ticket';
import { recordOrderEvent, type KnownOrder } from '../../models/ticket';

/**
 * What the three order listeners share: record the order's new state on its ticket and let the
 * ticket derive its holder (see holderOf). Whatever the delivery order of the events of a ticket's
 * orders, with duplicates, the ticket ends holding what the orders service says holds it. News is a
 * change (version bump, ticket:updated through the outbox); a duplicate changes nothing.
 */
export async function recordOrder(relay: OutboxRelay, log: Logger, ticketId: string, order: KnownOrder): Promise<void> {
  const ticket = await changeTicket(relay, ticketId, (t) => recordOrderEvent(t, order));
  if (ticket === null) {
    // Orders knows a ticket only from this service's ticket:created, so this is another
    // deployment's event or a dropped database: nothing a redelivery could fix.
    log.error({ ticketId, orderId: order.id, status: order.status }, 'order event for an unknown ticket; ignored');
  }
}
