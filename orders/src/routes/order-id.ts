import { param } from 'express-validator';

/** A malformed id is a 400 from validation, never a cast error or an accidental 404. */
export const orderIdParam = () => param('id').isMongoId().withMessage('The order id must be a valid id');
