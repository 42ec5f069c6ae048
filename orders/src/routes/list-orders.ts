import { pageOf, pageQuery, pageRequest, requireAuth, userOf, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { Order } from '../models/order';

/**
 * The caller's orders, newest first, one page at a time like GET /api/tickets (`limit`, `cursor`,
 * `nextCursor`: see paging in common), each with its ticket: one query for the orders (userId is
 * indexed) and one for all their tickets (populate's `$in`, a key lookup on MongoDB).
 */
export const listOrdersRouter = Router().get(
  '/api/orders',
  requireAuth,
  ...pageQuery(),
  validateRequest,
  async (req, res) => {
    const { limit, idFilter } = pageRequest(req);
    const rows = await Order.find({ userId: userOf(req).id, ...idFilter })
      .sort({ _id: -1 })
      .limit(limit + 1)
      .populate('ticket');
    const { items: orders, nextCursor } = pageOf(rows, limit);
    res.json({ orders, nextCursor });
  },
);
