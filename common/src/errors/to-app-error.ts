import mongoose from 'mongoose';
import { AppError, BadRequestError, ConflictError, RequestValidationError, ServiceUnavailableError } from './app-error';
import { isDuplicateKeyError } from './codes';

const UNAVAILABLE_ERROR_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

function hasProp<K extends string>(err: unknown, key: K): err is Record<K, unknown> {
  return typeof err === 'object' && err !== null && key in err;
}

function isTransient(err: Error): boolean {
  const labelled = err as Error & { hasErrorLabel?: (label: string) => boolean };
  if (typeof labelled.hasErrorLabel === 'function' && labelled.hasErrorLabel('RetryableWriteError')) return true;
  return /database is locked|SQLITE_BUSY/.test(err.message);
}

/**
 * Maps anything thrown to an AppError. Known failure shapes (user input that Mongoose rejected, a
 * duplicate key, a body that is not JSON, the database being away) get their own status; anything
 * else is a bug and becomes a generic 500.
 */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof mongoose.Error.CastError) {
    return new BadRequestError(`Invalid value for ${err.path}`, 'INVALID_VALUE', err.path);
  }
  if (err instanceof mongoose.Error.ValidationError) {
    return new RequestValidationError(Object.values(err.errors).map((e) => ({ message: e.message, field: e.path })));
  }
  if (err instanceof mongoose.Error.DocumentNotFoundError || err instanceof mongoose.Error.VersionError) {
    return new ConflictError('The record was changed by someone else; reload it and try again', 'VERSION_CONFLICT');
  }
  if (isDuplicateKeyError(err)) {
    return new ConflictError('A record with the same unique value already exists', 'DUPLICATE');
  }
  if (hasProp(err, 'type')) {
    if (err.type === 'entity.parse.failed')
      return new BadRequestError('The request body is not valid JSON', 'MALFORMED_JSON');
    if (err.type === 'entity.too.large') return new BadRequestError('The request body is too large', 'BODY_TOO_LARGE');
    if (typeof err.type === 'string' && err.type.startsWith('encoding.')) {
      return new BadRequestError('The request body encoding is not supported', 'UNSUPPORTED_ENCODING');
    }
  }
  if (err instanceof Error) {
    if (UNAVAILABLE_ERROR_NAMES.has(err.name) || /buffering timed out|not connected/i.test(err.message)) {
      return new ServiceUnavailableError();
    }
    // Transient server-side failures: worth a retry, not a bug. The driver labels MongoDB's own (a
    // primary stepping down); FerretDB's SQLite backend reports a write lock it waited too long for.
    if (isTransient(err)) return new ServiceUnavailableError();
  }
  return undefined;
}
