import { fromCents, isValidPrice, toCents } from '@ticketing/common';
import { body, param } from 'express-validator';
import { TITLE_MAX_LENGTH } from '../models/ticket';

/**
 * A price is a JSON number greater than 0 with at most two decimals (19.99). Strings ("19.99") are
 * refused rather than coerced. Round-tripping through cents is the exact test: 19.99 comes back
 * as 19.99, while 19.999 or 19.990000001 do not.
 */
export function isExactPrice(value: unknown): value is number {
  return isValidPrice(value) && fromCents(toCents(value)) === value;
}

export const titleField = () =>
  body('title')
    .isString()
    .withMessage('Title must be a string')
    .bail()
    .trim()
    .notEmpty()
    .withMessage('Title is required')
    .bail()
    .isLength({ max: TITLE_MAX_LENGTH })
    .withMessage(`Title must be at most ${TITLE_MAX_LENGTH} characters`);

export const priceField = () =>
  body('price')
    .custom(isExactPrice)
    .withMessage('Price must be a number greater than 0 (at most 1000000) with at most two decimals');

export const ticketIdParam = () => param('id').isMongoId().withMessage('Ticket id must be a valid id');
