import { RelayListener, Subjects, type PaymentCreatedEvent } from '@ticketing/common';
import { applyPayment, requestRefund } from '../../services/order-lifecycle';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * A payment went through: complete the order if it is still active. A payment for an order that was
 * cancelled meanwhile never resurrects it; it is recorded as needing a refund (models/refund-request.ts).
 */
export class PaymentCreatedListener extends RelayListener<PaymentCreatedEvent> {
  readonly subject = Subjects.PaymentCreated;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  async onMessage(data: PaymentCreatedEvent['data']): Promise<void> {
    const payment = { id: data.id, stripeId: data.stripeId };
    const result = await applyPayment(this.relay, data.orderId, payment, this.log);
    if (result === null) {
      // Payments only learns of orders from our order:created, so this cannot become valid later; the
      // money was taken all the same, so it is recorded for a refund rather than dropped.
      await requestRefund({ orderId: data.orderId, payment, reason: 'order-unknown' }, this.log);
      return;
    }
    this.log.info({ orderId: data.orderId, paymentId: data.id, outcome: result.outcome }, 'payment applied');
  }
}
