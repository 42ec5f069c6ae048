import { BadRequestError, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { query } from 'express-validator';
import type { TicketListing } from '../services/listing';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const OBJECT_ID = /^[a-f0-9]{24}$/;

/** The cursor is opaque to clients: base64url of the last ticket's id on the page. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!OBJECT_ID.test(id)) throw new BadRequestError('The cursor is not valid', 'INVALID_CURSOR', 'cursor');
  return id;
}

// Express 5 re-parses req.query on every read, so sanitizers cannot write back to it: the
// validators only check, and the handler converts. A repeated parameter (an array) is refused.
const isPageSize = (value: unknown): boolean =>
  typeof value === 'string' && /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_PAGE_SIZE;

/**
 * Tickets for sale (those no order holds), newest first, one page at a time. Paging by id
 * (`_id < cursor`) rather than by offset keeps pages stable while tickets are added or reserved.
 * The order comes from this replica's listing (see TicketListing), the tickets from bare `_id`
 * reads, so a page costs the same over a hundred tickets or a million.
 */
export function listTicketsRouter(listing: TicketListing): Router {
  return Router().get(
    '/api/tickets',
    query('limit').optional().custom(isPageSize).withMessage(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`),
    query('cursor')
      .optional()
      .custom((value: unknown) => typeof value === 'string')
      .withMessage('cursor must be a single string'),
    validateRequest,
    async (req, res) => {
      const { limit: rawLimit, cursor } = req.query as { limit?: string; cursor?: string };
      const limit = rawLimit === undefined ? DEFAULT_PAGE_SIZE : Number(rawLimit);
      const { tickets, more } = await listing.page(limit, cursor === undefined ? undefined : decodeCursor(cursor));
      const last = tickets[tickets.length - 1];
      const nextCursor = more && last !== undefined ? encodeCursor(String(last._id)) : null;
      res.json({ tickets, nextCursor });
    },
  );
}
