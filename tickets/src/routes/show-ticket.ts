import { NotFoundError, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { Ticket } from '../models/ticket';
import { ticketIdParam } from './validators';

export const showTicketRouter = Router().get('/api/tickets/:id', ticketIdParam(), validateRequest, async (req, res) => {
  const ticket = await Ticket.findById(req.params.id);
  if (ticket === null) throw new NotFoundError('Ticket not found', 'TICKET_NOT_FOUND');
  res.json(ticket);
});
