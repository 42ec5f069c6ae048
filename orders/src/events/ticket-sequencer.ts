import type { TicketUpdatedEvent } from '@ticketing/common';
import { applyTicketUpdated, ticketReplicaVersion } from '../models/ticket';
import { VersionSequencer } from './version-sequencer';

/** One per process, shared by the ticket listeners: ticket:created pokes the lane its updates wait in. */
export const ticketSequencer = new VersionSequencer<TicketUpdatedEvent['data']>({
  currentVersion: ticketReplicaVersion,
  apply: applyTicketUpdated,
});
