import type { ErrorCode } from './codes';

export interface SerializedError {
  message: string;
  field?: string;
  code?: ErrorCode;
}

export interface ErrorBody {
  errors: SerializedError[];
}

/**
 * The one error base of the project. Every error a route or listener throws on purpose is an AppError:
 * it knows its HTTP status and a stable machine code, so clients can branch on `code` instead of
 * parsing messages.
 */
export abstract class AppError extends Error {
  abstract readonly statusCode: number;

  protected constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
  }

  serialize(): ErrorBody {
    return { errors: [{ message: this.message, code: this.code }] };
  }
}

export class BadRequestError extends AppError {
  readonly statusCode = 400;

  constructor(
    message: string,
    code: ErrorCode = 'BAD_REQUEST',
    readonly field?: string,
  ) {
    super(message, code);
  }

  override serialize(): ErrorBody {
    const error: SerializedError = { message: this.message, code: this.code };
    if (this.field !== undefined) error.field = this.field;
    return { errors: [error] };
  }
}

export class NotFoundError extends AppError {
  readonly statusCode = 404;

  constructor(message = 'Not found', code: ErrorCode = 'NOT_FOUND') {
    super(message, code);
  }
}

export class NotAuthorizedError extends AppError {
  readonly statusCode = 401;

  constructor(message = 'Not authorized', code: ErrorCode = 'NOT_AUTHORIZED') {
    super(message, code);
  }
}

export class ForbiddenError extends AppError {
  readonly statusCode = 403;

  constructor(message = 'Forbidden', code: ErrorCode = 'FORBIDDEN') {
    super(message, code);
  }
}

export class ConflictError extends AppError {
  readonly statusCode = 409;

  constructor(message: string, code: ErrorCode = 'CONFLICT') {
    super(message, code);
  }
}

export class ServiceUnavailableError extends AppError {
  readonly statusCode = 503;

  constructor(message = 'Service temporarily unavailable, try again shortly', code: ErrorCode = 'SERVICE_UNAVAILABLE') {
    super(message, code);
  }
}

export class TooManyRequestsError extends AppError {
  readonly statusCode = 429;

  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests, try again later',
  ) {
    super(message, 'TOO_MANY_REQUESTS');
  }
}

export interface FieldError {
  message: string;
  field: string;
}

export class RequestValidationError extends AppError {
  readonly statusCode = 400;

  constructor(readonly fieldErrors: FieldError[]) {
    super('Invalid request parameters', 'VALIDATION_FAILED');
  }

  override serialize(): ErrorBody {
    return {
      errors: this.fieldErrors.map((e) => ({ message: e.message, field: e.field, code: this.code })),
    };
  }
}

/** Thrown by the version plugin's save when another writer changed the document first. */
export class VersionConflictError extends ConflictError {
  constructor(model: string) {
    super(`The ${model} was changed by someone else; reload it and try again`, 'VERSION_CONFLICT');
  }
}
