import { requireAuth, userOf } from '@ticketing/common';
import { Router } from 'express';
import { Order } from '../models/order';

/**
 * The caller's orders, newest first, each with its ticket: one query for the orders (userId is
 * indexed) and one for all their tickets (populate's `$in`, a key lookup on MongoDB).
 */
export const indexOrdersRouter = Router().get('/api/orders', requireAuth, async (req, res) => {
  const orders = await Order.find({ userId: userOf(req).id })
    .sort({ _id: -1 })
    .populate('ticket');
  res.json(orders);
});
