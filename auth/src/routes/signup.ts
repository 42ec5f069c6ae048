import { BadRequestError, isDuplicateKeyError, signUserToken, validateRequest } from '@ticketing/common';
import { Router, type RequestHandler } from 'express';
import { body } from 'express-validator';
import { newSessionId } from '../models/revocation';
import { User } from '../models/user';
import { hashPassword } from '../services/password';
import { PASSWORD_MAX, PASSWORD_MIN, emailField } from './validators';

export function signupRouter(jwtKey: string, expiresInSeconds: number, limiter: RequestHandler): Router {
  const router = Router();
  router.post(
    '/api/users/signup',
    limiter,
    emailField(),
    body('password')
      .isString()
      .withMessage('Password must be a string')
      .bail()
      .isLength({ min: PASSWORD_MIN, max: PASSWORD_MAX })
      .withMessage(`Password must be between ${PASSWORD_MIN} and ${PASSWORD_MAX} characters`),
    validateRequest,
    async (req, res) => {
      const { email, password } = req.body as {
        email: string;
        password: string;
      };
      let user;
      try {
        user = await User.create({
          email,
          passwordHash: await hashPassword(password),
        });
      } catch (err) {
        if (isDuplicateKeyError(err)) {
          throw new BadRequestError('Email in use', 'EMAIL_IN_USE', 'email');
        }
        throw err;
      }
      req.session = {
        jwt: signUserToken({ id: user._id.toHexString(), email: user.email }, newSessionId(), jwtKey, expiresInSeconds),
      };
      res.status(201).json(user);
    },
  );
  return router;
}
