import type { RequestHandler } from 'express';
import { validationResult } from 'express-validator';
import { RequestValidationError } from '../errors';

export const validateRequest: RequestHandler = (req, _res, next) => {
  const result = validationResult(req);
  if (!result.isEmpty()) {
    const fieldErrors = result.array({ onlyFirstError: true }).map((e) => ({
      message: String(e.msg),
      field: e.type === 'field' ? e.path : e.type,
    }));
    throw new RequestValidationError(fieldErrors);
  }
  next();
};
