import { AppError, type ErrorCode } from '@ticketing/common';

/** The card was refused (declined, or it needs an authentication this API cannot run). */
export class PaymentDeclinedError extends AppError {
  readonly statusCode = 402;

  constructor(message: string, code: ErrorCode = 'PAYMENT_DECLINED') {
    super(message, code);
  }
}

/** Stripe answered, but not in a way we can use (a configuration problem on our side, typically). */
export class PaymentProviderError extends AppError {
  readonly statusCode = 502;

  constructor(
    message = 'The payment provider refused the request; no payment was recorded',
    code: ErrorCode = 'PAYMENT_PROVIDER_ERROR',
  ) {
    super(message, code);
  }
}
