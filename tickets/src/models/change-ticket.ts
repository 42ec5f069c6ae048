import { VersionConflictError, runExclusive, type OutboxRelay } from '@ticketing/common';
import { Ticket, stageTicketUpdated, type TicketDoc } from './ticket';

/**
 * Edits the ticket in place and says whether it changed anything (false: nothing is written and
 * no event is published). It may throw to refuse the change (e.g. the ticket is reserved).
 */
export type TicketChange = (ticket: TicketDoc) => boolean | Promise<boolean>;

export const MAX_CHANGE_ATTEMPTS = 5;

/**
 * Applies a change to the latest stored copy of a ticket and stores it together with its
 * ticket:updated event (one save, then the relay publishes). A concurrent writer, such as a
 * seller's edit racing a reservation, makes the save fail with VersionConflictError: the ticket is
 * then reloaded and the change applied again on top of the other write, so neither is lost.
 * Returns the ticket as stored, or null when there is no such ticket.
 */
export function changeTicket(
  relay: OutboxRelay,
  id: string,
  change: TicketChange,
  maxAttempts = MAX_CHANGE_ATTEMPTS,
): Promise<TicketDoc | null> {
  // One change of a ticket at a time in this process (see runExclusive: FerretDB's updates are not atomic).
  return runExclusive(`ticket:${id}`, async () => {
    for (let attempt = 1; ; attempt += 1) {
      const ticket = await Ticket.findById(id);
      if (ticket === null) return null;
      if (!(await change(ticket))) return ticket;
      stageTicketUpdated(ticket);
      try {
        await relay.commit(ticket);
        return ticket;
      } catch (err) {
        // Past the last attempt the error propagates: a route answers 409, a listener leaves the
        // event unacked so that its redelivery tries again later.
        if (!(err instanceof VersionConflictError) || attempt >= maxAttempts) throw err;
      }
    }
  });
}
