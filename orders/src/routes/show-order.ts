import { NotFoundError, requireAuth, userOf, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { Order, withTicket } from '../models/order';
import { orderIdParam } from './order-id';

/**
 * Another user's order is a 404, exactly like an absent one: the response does not tell a stranger
 * which order ids exist.
 */
export const showOrderRouter = Router().get(
  '/api/orders/:id',
  requireAuth,
  orderIdParam(),
  validateRequest,
  async (req, res) => {
    // By id alone, then the owner check: a key lookup on every server (see withTicket).
    const order = await Order.findById(req.params.id);
    if (order === null || order.userId !== userOf(req).id) {
      throw new NotFoundError('Order not found', 'ORDER_NOT_FOUND');
    }
    res.json(await withTicket(order));
  },
);
