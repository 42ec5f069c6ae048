import { BadRequestError, signUserToken, validateRequest } from '@ticketing/common';
import { Router, type RequestHandler } from 'express';
import { body } from 'express-validator';
import { newSessionId } from '../models/revocation';
import { User } from '../models/user';
import { burnPasswordCheck, verifyPassword } from '../services/password';
import { PASSWORD_MAX, emailField } from './validators';

export function signinRouter(jwtKey: string, expiresInSeconds: number, limiter: RequestHandler): Router {
  const router = Router();
  router.post(
    '/api/users/signin',
    limiter,
    emailField(),
    body('password')
      .isString()
      .withMessage('Password must be a string')
      .bail()
      .isLength({ min: 1, max: PASSWORD_MAX })
      .withMessage('You must supply a password'),
    validateRequest,
    async (req, res) => {
      const { email, password } = req.body as {
        email: string;
        password: string;
      };
      const user = await User.findOne({ email });
      const valid =
        user === null
          ? await burnPasswordCheck(password).then(() => false)
          : await verifyPassword(user.passwordHash, password);
      // One message for both cases, so the response does not tell which emails have accounts.
      if (user === null || !valid) throw new BadRequestError('Invalid credentials', 'INVALID_CREDENTIALS');
      req.session = {
        jwt: signUserToken({ id: user._id.toHexString(), email: user.email }, newSessionId(), jwtKey, expiresInSeconds),
      };
      res.status(200).json(user);
    },
  );
  return router;
}
