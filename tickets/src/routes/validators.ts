import { isValidPrice } from '@ticketing/common';
import { body, param } from 'express-validator';
import { TITLE_MAX_LENGTH } from '../models/ticket';

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
    .custom(isValidPrice)
    .withMessage('Price must be a number greater than 0 (at most 1000000) with at most two decimals');

export const ticketIdParam = () => param('id').isMongoId().withMessage('Ticket id must be a valid id');
