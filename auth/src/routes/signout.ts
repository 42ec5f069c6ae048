import {
  Subjects,
  isDuplicateKeyError,
  sessionTokenOf,
  stageEvent,
  type OutboxRelay,
  type SessionRevocations,
} from '@ticketing/common';
import { Router } from 'express';
import { Revocation } from '../models/revocation';

export interface SignoutDeps {
  jwtKey: string;
  relay: OutboxRelay;
  revocations: SessionRevocations;
}

/**
 * Clears the cookie and ends the session everywhere: a copy of the cookie taken earlier is refused by
 * every service once session:revoked reaches it (each applies it to its SessionRevocations), in
 * milliseconds while the bus is up. A request without a valid session just gets its cookie cleared.
 */
export function signoutRouter({ jwtKey, relay, revocations }: SignoutDeps): Router {
  return Router().post('/api/users/signout', async (req, res) => {
    const token = sessionTokenOf(req, jwtKey);
    if (token !== undefined) {
      const revocation = new Revocation({
        _id: token.sid,
        userId: token.user.id,
        expiresAt: new Date(token.expiresAtMs),
      });
      stageEvent(revocation, Subjects.SessionRevoked, {
        id: token.sid,
        userId: token.user.id,
        expiresAt: revocation.expiresAt.toISOString(),
      });
      try {
        await relay.commit(revocation);
      } catch (err) {
        // Signed out before (a copy of the cookie): its event is already stored.
        if (!isDuplicateKeyError(err)) throw err;
      }
      // This process refuses it at once; the others when the event reaches them.
      revocations.revoke(token.sid, token.expiresAtMs);
    }
    req.session = null;
    res.json({});
  });
}
