import { pageOf, pageQuery, pageRequest, requireAuth, userOf, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { ordersOfUser } from '../services/order-index';

/**
 * The caller's orders, newest first, one page at a time like GET /api/tickets (`limit`, `cursor`,
 * `nextCursor`: see paging in common), each with its ticket. Read from the caller's list of orders
 * (services/order-index.ts) by bare `_id` lookups, so a page costs the same whatever the number of
 * other users' orders, on FerretDB as on MongoDB.
 */
export const listOrdersRouter = Router().get(
  '/api/orders',
  requireAuth,
  ...pageQuery(),
  validateRequest,
  async (req, res) => {
    const { limit, after } = pageRequest(req);
    const rows = await ordersOfUser(userOf(req).id, limit, after);
    const { items, nextCursor } = pageOf(rows, limit);
    res.json({ orders: items.map((item) => item.json), nextCursor });
  },
);
