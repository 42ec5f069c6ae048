import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  assertNever,
  requireAuth,
  toCents,
  userOf,
  validateRequest,
  type OutboxRelay,
} from '@ticketing/common';
import { Router } from 'express';
import { editTicket } from '../services/ticket-lifecycle';
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
      const result = await editTicket(relay, req.params.id as string, {
        userId: userOf(req).id,
        title,
        priceCents: toCents(price),
      });
      if (result === null) throw new NotFoundError('Ticket not found', 'TICKET_NOT_FOUND');
      switch (result.outcome) {
        case 'updated':
        case 'unchanged':
          res.json(result.ticket);
          return;
        case 'not-seller':
          // Signed in but not the seller: 403, not 401 (the caller is known, just not allowed).
          throw new ForbiddenError('Only the seller can edit this ticket');
        case 'sold':
          throw new BadRequestError('The ticket is sold and cannot be edited', 'TICKET_SOLD');
        case 'reserved':
          throw new BadRequestError('The ticket is reserved by an order and cannot be edited', 'TICKET_RESERVED');
        default:
          assertNever(result.outcome);
      }
    },
  );
  return router;
}
