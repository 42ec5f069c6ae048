import {
  BadRequestError,
  NotFoundError,
  requireAuth,
  userOf,
  validateRequest,
  type OutboxRelay,
} from '@ticketing/common';
import { Router } from 'express';
import { body } from 'express-validator';
import { Ticket } from '../models/ticket';
import { createOrder } from '../services/order-lifecycle';

export interface NewOrderSettings {
  /** How long a new order holds its ticket (EXPIRATION_WINDOW_SECONDS). */
  expirationWindowSeconds: number;
  /** Unpaid orders one user may hold at once (MAX_ACTIVE_ORDERS_PER_USER). */
  maxActiveOrders: number;
}

export function newOrderRouter(relay: OutboxRelay, settings: NewOrderSettings): Router {
  return Router().post(
    '/api/orders',
    requireAuth,
    body('ticketId')
      .isString()
      .withMessage('ticketId must be a string')
      .bail()
      .isMongoId()
      .withMessage('ticketId must be a valid id'),
    validateRequest,
    async (req, res) => {
      const { ticketId } = req.body as { ticketId: string };
      const ticket = await Ticket.findById(ticketId);
      if (ticket === null) throw new NotFoundError('Ticket not found', 'TICKET_NOT_FOUND');
      const user = userOf(req);
      // The replica carries the seller (ticket events do): buying from yourself would only hold the
      // ticket away from real buyers and charge a card for nothing.
      if (ticket.userId === user.id) {
        throw new BadRequestError('You cannot order your own ticket', 'CANNOT_BUY_OWN_TICKET', 'ticketId');
      }
      // Whether the ticket is free, and whether the user may hold one more unpaid order, is decided by
      // the insert itself (see createOrder), never by a read here.
      const order = await createOrder(relay, {
        userId: user.id,
        ticket,
        expiresAt: new Date(Date.now() + settings.expirationWindowSeconds * 1000),
        maxActiveOrders: settings.maxActiveOrders,
      });
      order.set('ticket', ticket); // shown populated, without a query
      res.status(201).json(order);
    },
  );
}
