import mongoose from 'mongoose';
import pino from 'pino';
import { type Bus, type EventData, type EventEnvelope, type Subjects } from '../events';
import type { UserPayload } from '../http';
import { signUserToken } from '../http';

/** A JWT key for tests only; real deployments read JWT_KEY from a Secret. */
export const TEST_JWT_KEY = 'test-only-jwt-key-0123456789abcdefghijklmnop';

export const silentLogger = pino({ level: 'silent' });

/** A session cookie as the auth service would set it, for supertest's `.set('Cookie', ...)`. */
export function sessionCookie(
  user: UserPayload,
  jwtKey = TEST_JWT_KEY,
  expiresInSeconds = 3600,
  sid = new mongoose.Types.ObjectId().toHexString(),
): string[] {
  const session = { jwt: signUserToken(user, sid, jwtKey, expiresInSeconds) };
  return [`session=${Buffer.from(JSON.stringify(session)).toString('base64')}`];
}

/**
 * Records every event published on some subjects, through a plain (non-queue) subscription that
 * replays the channel from its start, so nothing published before the probe started is missed.
 */
export class EventProbe {
  readonly events: EventEnvelope[] = [];

  constructor(bus: Bus, subjects: Subjects[]) {
    for (const subject of subjects) {
      bus.subscribe({ subject, ackWaitMs: 30_000, maxInFlight: 1024 }, (msg) => {
        msg.ack();
        this.events.push(JSON.parse(msg.data) as EventEnvelope);
      });
    }
  }

  of<S extends Subjects>(subject: S): Array<EventData<S>> {
    return this.events.filter((e) => e.subject === subject).map((e) => e.data as EventData<S>);
  }

  /** Waits (polling, with a deadline) for an event of `subject` matching `predicate`. */
  async waitFor<S extends Subjects>(
    subject: S,
    predicate: (data: EventData<S>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<EventData<S>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.of(subject).find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`no ${subject} event matched within ${timeoutMs} ms; saw ${JSON.stringify(this.of(subject))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
