import {
  BadRequestError,
  NotFoundError,
  OrderStatus,
  requireAuth,
  userOf,
  validateRequest,
  type OutboxRelay,
} from '@ticketing/common';
import { Router } from 'express';
import { body } from 'express-validator';
import { withTicket } from '../models/order';
import { cancelOrder } from '../services/order-lifecycle';
import { orderIdParam } from './order-id';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * PATCH /api/orders/:id with exactly { "status": "cancelled" }: the only change a buyer may make.
 * Cancelling an order that is already cancelled answers 200 with the order and changes nothing (a
 * client retrying after a lost response gets the same answer); a complete order cannot be cancelled.
 */
export function updateOrderRouter(relay: OutboxRelay): Router {
  return Router().patch(
    '/api/orders/:id',
    requireAuth,
    orderIdParam(),
    body()
      .custom((value) => isPlainObject(value) && Object.keys(value).every((key) => key === 'status'))
      .withMessage('The body must be { "status": "cancelled" } and nothing else'),
    body('status')
      .custom((value) => value === OrderStatus.Cancelled)
      .withMessage('status must be "cancelled": the only change a buyer can make to an order'),
    validateRequest,
    async (req, res) => {
      const result = await cancelOrder(relay, req.params.id as string, { userId: userOf(req).id });
      // Another user's order is a 404 like an absent one (see show-order.ts).
      if (result === null) throw new NotFoundError('Order not found', 'ORDER_NOT_FOUND');
      if (result.outcome === 'complete') {
        throw new BadRequestError('A completed order cannot be cancelled', 'ORDER_COMPLETE', 'status');
      }
      res.json(await withTicket(result.order));
    },
  );
}
