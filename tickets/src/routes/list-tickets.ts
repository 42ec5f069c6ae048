import { encodeCursor, pageQuery, pageRequest, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import type { TicketListing } from '../services/listing';

/**
 * Tickets for sale (those no order holds), newest first, one page at a time (limit, cursor and
 * their validation are common's paging, shared with GET /api/orders). Paging by id (`_id < cursor`)
 * rather than by offset keeps pages stable while tickets are added or reserved. The order comes from
 * this replica's listing (see TicketListing), the tickets from bare `_id` reads, so a page costs the
 * same over a hundred tickets or a million.
 */
export function listTicketsRouter(listing: TicketListing): Router {
  return Router().get('/api/tickets', ...pageQuery(), validateRequest, async (req, res) => {
    const { limit, after } = pageRequest(req);
    const { tickets, more } = await listing.page(limit, after);
    const last = tickets[tickets.length - 1];
    const nextCursor = more && last !== undefined ? encodeCursor(last.id) : null;
    res.json({ tickets, nextCursor });
  });
}
