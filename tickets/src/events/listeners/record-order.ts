import type { Logger, OutboxRelay } from '@ticketing/common';
import type { KnownOrder } from '../../models/ticket';
import { recordOrderOnTicket } from '../../services/ticket-lifecycle';

/**
 * What the three order listeners share: record the order's new state on its ticket (see
 * recordOrderOnTicket) and say in the log what could not be recorded.
 */
export async function recordOrder(relay: OutboxRelay, log: Logger, ticketId: string, order: KnownOrder): Promise<void> {
  const result = await recordOrderOnTicket(relay, ticketId, order);
  if (result === null) {
    // Orders knows a ticket only from this service's ticket:created, so this is another
    // deployment's event or a dropped database: nothing a redelivery could fix.
    log.error({ ticketId, orderId: order.id, status: order.status }, 'order event for an unknown ticket; ignored');
  }
}
