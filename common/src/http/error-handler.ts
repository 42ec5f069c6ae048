import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { NotFoundError, reportError, toAppError, type ErrorBody } from '../errors';

const INTERNAL: ErrorBody = { errors: [{ message: 'Something went wrong', code: 'INTERNAL' }] };

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    reportError(logger, err, 'http', { method: req.method, url: req.originalUrl });
    const appError = toAppError(err);
    if (appError === undefined) {
      res.status(500).json(INTERNAL);
      return;
    }
    res.status(appError.statusCode).json(appError.serialize());
  };
}

export const notFound: RequestHandler = (req) => {
  throw new NotFoundError(`No route for ${req.method} ${req.path}`, 'ROUTE_NOT_FOUND');
};
