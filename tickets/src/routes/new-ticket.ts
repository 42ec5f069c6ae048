import { requireAuth, toCents, userOf, validateRequest, type OutboxRelay } from '@ticketing/common';
import { Router } from 'express';
import { createTicket } from '../services/ticket-lifecycle';
import { priceField, titleField } from './validators';

export function newTicketRouter(relay: OutboxRelay): Router {
  const router = Router();
  router.post('/api/tickets', requireAuth, titleField(), priceField(), validateRequest, async (req, res) => {
    const { title, price } = req.body as { title: string; price: number };
    // One insert stores the ticket and its ticket:created event; the relay publishes it (now, or
    // once the bus is back), so the seller gets 201 even while the bus is down.
    const ticket = await createTicket(relay, { title, priceCents: toCents(price), userId: userOf(req).id });
    res.status(201).json(ticket);
  });
  return router;
}
