import {
  BadRequestError,
  NotFoundError,
  RequestValidationError,
  requireAuth,
  userOf,
  type OutboxRelay,
} from '@ticketing/common';
import { Router, type RequestHandler } from 'express';
import { Ticket, ticketJson, type TicketAttrs } from '../models/ticket';
import { createOrder } from '../services/order-lifecycle';

export interface NewOrderSettings {
  /** How long a new order holds its ticket (EXPIRATION_WINDOW_SECONDS). */
  expirationWindowSeconds: number;
  /** Unpaid orders one user may hold at once (MAX_ACTIVE_ORDERS_PER_USER). */
  maxActiveOrders: number;
}

export function newOrderRouter(relay: OutboxRelay, settings: NewOrderSettings): Router {
  return Router().post('/api/orders', requireAuth, validTicketId, async (req, res) => {
    const { ticketId } = req.body as { ticketId: string };
    // A plain object, not a document: the route only reads it (and shows it, see below).
    const ticket = await Ticket.findById(ticketId).lean<TicketAttrs>();
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
    // Shown populated, without a query.
    res.status(201).json({ ...(order.toJSON() as Record<string, unknown>), ticket: ticketJson(ticket) });
  });
}

/** A MongoDB ObjectId as a string: 24 hexadecimal digits. */
const OBJECT_ID = /^[0-9a-fA-F]{24}$/;

/**
 * The body's ticketId, checked by hand: the route's one field did not need express-validator's
 * chain (building its context and running each validator was a visible share of the route's CPU).
 * The same answer as validateRequest's: 400 VALIDATION_FAILED naming the field.
 */
const validTicketId: RequestHandler = (req, _res, next) => {
  const ticketId = (req.body as { ticketId?: unknown } | undefined)?.ticketId;
  if (typeof ticketId !== 'string') {
    throw new RequestValidationError([{ message: 'ticketId must be a string', field: 'ticketId' }]);
  }
  if (!OBJECT_ID.test(ticketId)) {
    throw new RequestValidationError([{ message: 'ticketId must be a valid id', field: 'ticketId' }]);
  }
  next();
};
