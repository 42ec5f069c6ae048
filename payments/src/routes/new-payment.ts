import { requireAuth, userOf, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { body } from 'express-validator';
import { payOrder, type PaymentDeps } from '../services/pay-order';

export function newPaymentRouter(deps: PaymentDeps): Router {
  const router = Router();
  router.post(
    '/api/payments',
    requireAuth,
    body('orderId').isMongoId().withMessage('orderId must be a valid order id'),
    body('token')
      .isString()
      .withMessage('token must be a string')
      .bail()
      .trim()
      .isLength({ min: 1, max: 255 })
      .withMessage('token must be a card token (tok_...) or a payment method id (pm_...)')
      .bail()
      .matches(/^[A-Za-z0-9_]+$/)
      .withMessage('token must be a card token (tok_...) or a payment method id (pm_...)'),
    validateRequest,
    async (req, res) => {
      const { orderId, token } = req.body as { orderId: string; token: string };
      const payment = await payOrder(deps, { userId: userOf(req).id, orderId, token });
      res.status(201).json({ id: payment._id.toHexString() });
    },
  );
  return router;
}
