/// <reference types="cookie-session" preserve="true" />
import type { RequestHandler } from 'express';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { NotAuthorizedError } from '../errors';
import type { RevocationList } from './session-revocations';

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

/** What a session token carries: the user, and the session's id (what signout revokes). */
export interface SessionToken {
  user: UserPayload;
  sid: string;
  /** When the token expires (ms since epoch). */
  expiresAtMs: number;
}

function isSessionPayload(value: unknown): value is UserPayload & { sid: string; exp: number } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['id'] === 'string' &&
    typeof v['email'] === 'string' &&
    typeof v['sid'] === 'string' &&
    typeof v['exp'] === 'number'
  );
}

/**
 * Verifies a session JWT. A forged, expired or malformed token simply means "not signed in", and so
 * does one without a session id: it could never be signed out.
 */
export function verifySessionToken(token: string, jwtKey: string): SessionToken | undefined {
  try {
    const payload = jwt.verify(token, secretKey(jwtKey), { algorithms: [JWT_ALGORITHM] });
    if (!isSessionPayload(payload)) return undefined;
    return { user: { id: payload.id, email: payload.email }, sid: payload.sid, expiresAtMs: payload.exp * 1000 };
  } catch {
    return undefined;
  }
}

/** A session token for `user` in session `sid` (a new one per signin: see auth's signin). */
export function signUserToken(user: UserPayload, sid: string, jwtKey: string, expiresInSeconds: number): string {
  return jwt.sign({ id: user.id, email: user.email, sid }, secretKey(jwtKey), {
    algorithm: JWT_ALGORITHM,
    expiresIn: expiresInSeconds,
  });
}

/** The session token of the request's cookie, verified; undefined when there is none or it is bad. */
export function sessionTokenOf(req: Express.Request, jwtKey: string): SessionToken | undefined {
  const session = req.session as SessionData | null | undefined;
  const token = session?.jwt;
  return typeof token === 'string' ? verifySessionToken(token, jwtKey) : undefined;
}

/**
 * Sets req.currentUser from a valid session token whose session was not signed out. `revocations`
 * is the process's list of signed-out sessions (SessionRevocations, fed by session:revoked); an app
 * built without one (component tests of other routes) checks the token alone.
 */
export function currentUser(jwtKey: string, revocations?: RevocationList): RequestHandler {
  return (req, _res, next) => {
    const token = sessionTokenOf(req, jwtKey);
    if (token !== undefined && revocations?.isRevoked(token.sid) !== true) req.currentUser = token.user;
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
