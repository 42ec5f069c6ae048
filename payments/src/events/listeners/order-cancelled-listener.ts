import {
  Listener,
  OrderStatus,
  Subjects,
  observeReplicaApplied,
  type Bus,
  type ListenerOptions,
  type Logger,
  type MessageContext,
  type OrderCancelledEvent,
} from '@ticketing/common';
import type Stripe from 'stripe';
import { Order, applyOrderEvent } from '../../models/order';
import { refundIfPaid } from '../../services/refund';
import { QUEUE_GROUP_NAME } from './queue-group';

/**
 * The order is cancelled (by its buyer or by expiry): no payment is accepted any more, and a payment
 * that went through in the last moments is refunded.
 */
export class OrderCancelledListener extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = QUEUE_GROUP_NAME;

  constructor(
    bus: Bus,
    logger: Logger,
    private readonly stripe: Stripe,
    opts?: ListenerOptions,
  ) {
    super(bus, logger, opts);
  }

  async onMessage(data: OrderCancelledEvent['data'], ctx?: MessageContext): Promise<void> {
    const outcome = await applyOrderEvent(data, (order) => order.set('status', OrderStatus.Cancelled));
    if (outcome === 'applied') observeReplicaApplied('orders', this.subject, ctx?.publishedAt);
    // Also on a redelivery ('stale'): the earlier delivery may have stored the cancellation and then
    // failed at Stripe. The refund must come after the cancellation is stored (see pay-order.ts).
    const order = await Order.findById(data.id).select({ status: 1 }).lean<{ status: OrderStatus }>();
    if (order?.status === OrderStatus.Cancelled) await refundIfPaid(this.stripe, data.id, this.log);
  }
}
