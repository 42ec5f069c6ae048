import { BadRequestError, assertNever, requireAuth, userOf, validateRequest } from '@ticketing/common';
import { Router } from 'express';
import { body } from 'express-validator';
import { PaymentDeclinedError } from '../errors';
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
      const outcome = await payOrder(deps, { userId: userOf(req).id, orderId, token });
      switch (outcome.kind) {
        case 'paid':
          res.status(201).json({ id: outcome.paymentId, status: 'succeeded' });
          return;
        case 'already-paid':
          res.status(200).json({ id: outcome.paymentId, status: 'succeeded' });
          return;
        case 'pending':
          // Accepted, outcome not known yet: the order completes (or the claim is released) once the
          // reconciler hears from Stripe; asking again meanwhile charges nothing.
          res.status(202).json({ id: outcome.paymentId, status: 'pending' });
          return;
        case 'declined':
          throw new PaymentDeclinedError(outcome.message, 'PAYMENT_DECLINED');
        case 'not-completed':
          throw new PaymentDeclinedError(outcome.message, 'PAYMENT_NOT_COMPLETED');
        case 'cancelled-meanwhile':
          throw new BadRequestError(
            outcome.refunded
              ? 'This order was cancelled while it was being paid; the charge has been refunded'
              : 'This order was cancelled while it was being paid; the charge will be refunded',
            'ORDER_CANCELLED',
          );
        default:
          assertNever(outcome);
      }
    },
  );
  return router;
}
