import { body } from 'express-validator';

/** Strings only: an object such as {"$gt": ""} is rejected here and never reaches a query. */
export const emailField = () =>
  body('email')
    .isString()
    .withMessage('Email must be a string')
    .bail()
    .trim()
    .toLowerCase()
    .isEmail()
    .withMessage('Email must be valid')
    .isLength({ max: 254 })
    .withMessage('Email is too long');

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
