import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  requireAuth,
  toCents,
  userOf,
  validateRequest,
  type OutboxRelay,
} from '@ticketing/common';
import { Router } from 'express';
import { changeTicket } from '../models/change-ticket';
import { priceField, ticketIdParam, titleField } from './validators';

export function updateTicketRouter(relay: OutboxRelay): Router {
  const router = Router();
  router.put(
    '/api/tickets/:id',
    requireAuth,
    ticketIdParam(),
    titleField(),
    priceField(),
    validateRequest,
    async (req, res) => {
      const { title, price } = req.body as { title: string; price: number };
      const priceCents = toCents(price);
      const user = userOf(req);
      // The checks run inside the change, so they are made again on the fresh copy if a
      // reservation lands between our read and our save (the version plugin makes that save fail).
      const ticket = await changeTicket(relay, req.params.id as string, (t) => {
        // Signed in but not the seller: 403, not 401 (the caller is known, just not allowed).
        if (t.userId !== user.id) throw new ForbiddenError('Only the seller can edit this ticket');
        if (t.sold === true) {
          throw new BadRequestError('The ticket is sold and cannot be edited', 'TICKET_SOLD');
        }
        if (t.orderId !== undefined) {
          throw new BadRequestError('The ticket is reserved by an order and cannot be edited', 'TICKET_RESERVED');
        }
        if (t.title === title && t.priceCents === priceCents) return false; // nothing to change, nothing to publish
        t.title = title;
        t.priceCents = priceCents;
        return true;
      });
      if (ticket === null) throw new NotFoundError('Ticket not found', 'TICKET_NOT_FOUND');
      res.json(ticket);
    },
  );
  return router;
}
