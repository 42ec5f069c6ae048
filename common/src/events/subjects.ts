/** Channel names on the bus. Past tense: each names something that already happened. */
export enum Subjects {
  TicketCreated = 'ticket:created',
  TicketUpdated = 'ticket:updated',
  OrderCreated = 'order:created',
  OrderCancelled = 'order:cancelled',
  OrderCompleted = 'order:completed',
  ExpirationComplete = 'expiration:complete',
  PaymentCreated = 'payment:created',
  SessionRevoked = 'session:revoked',
}

export enum OrderStatus {
  /** The order exists and holds its ticket; payment has not started. */
  Created = 'created',
  /** Payment started; the ticket stays held. */
  AwaitingPayment = 'awaiting:payment',
  /** Paid: the ticket is sold. Final. */
  Complete = 'complete',
  /** Cancelled by the buyer or by expiry: the ticket is released. Final. */
  Cancelled = 'cancelled',
}

export const ACTIVE_ORDER_STATUSES: readonly OrderStatus[] = [OrderStatus.Created, OrderStatus.AwaitingPayment];

export function isActiveStatus(status: OrderStatus): boolean {
  return ACTIVE_ORDER_STATUSES.includes(status);
}

export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
