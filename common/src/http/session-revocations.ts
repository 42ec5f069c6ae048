import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bus, DeliveredMessage } from '../events/bus';
import { Subjects } from '../events/subjects';
import { isValidEventData } from '../events/validate';

/**
 * The sessions that were signed out, as this process knows them: every service verifies session
 * tokens locally (no call to auth per request) and refuses a token whose `sid` is in here.
 *
 * Fed by session:revoked through a plain subscription (no queue group: every replica of every
 * service needs every revocation) that replays the channel from `lookbackSeconds` ago, the longest a
 * token lives, so a process that starts (or restarts) rebuilds the whole set from the bus. A
 * revocation is kept until the token would have expired anyway, then forgotten.
 *
 * start() resolves once the replay has caught up: it publishes a marker of its own on the channel
 * and waits for it to come back, and a channel keeps its order, so every revocation published
 * before the marker has been applied by then. Services await it before they listen, so no request
 * is answered with a half-built set. The markers (`{ sync }`) are skipped by every consumer.
 */
export interface SessionRevocationsOptions {
  bus: Bus;
  logger: Logger;
  /** How far back the channel is replayed: at least the lifetime of a token (JWT_EXPIRES_IN_SECONDS). */
  lookbackSeconds: number;
  now?: () => number;
}

interface SyncMarker {
  sync: string;
}

function isSyncMarker(data: unknown): data is SyncMarker {
  return typeof data === 'object' && data !== null && typeof (data as { sync?: unknown }).sync === 'string';
}

/** What the current-user middleware asks. */
export interface RevocationList {
  isRevoked(sid: string): boolean;
}

export class SessionRevocations implements RevocationList {
  /** sid → when its token expires (ms since epoch). */
  private readonly revoked = new Map<string, number>();
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly marker = randomUUID();
  private caughtUp: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SessionRevocationsOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'session-revocations' });
  }

  /** Subscribes and resolves once every revocation published so far is applied. */
  async start(): Promise<void> {
    const synced = new Promise<void>((resolve) => (this.caughtUp = resolve));
    this.opts.bus.subscribe(
      {
        subject: Subjects.SessionRevoked,
        ackWaitMs: 30_000,
        maxInFlight: 1024,
        // The whole history: revocations of expired tokens are skipped as they come. (A replay
        // window of JWT_EXPIRES_IN_SECONDS would bound the cost; both transports support a start
        // time, the bus interface does not expose it yet.)
        deliver: 'all',
      },
      (msg) => this.onMessage(msg),
    );
    // Untyped on purpose: a marker is not a revocation (see the class comment).
    await this.opts.bus.publish(Subjects.SessionRevoked, { sync: this.marker } satisfies SyncMarker);
    await synced;
    // Forget revocations of tokens that have expired by themselves.
    this.sweepTimer = setInterval(() => this.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  /** Stops the sweep timer (a shutdown step; the bus's close ends the subscription). */
  stop(): Promise<void> {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    return Promise.resolve();
  }

  /** Applies a revocation made in this process (auth's own signout), before the bus brings it back. */
  revoke(sid: string, expiresAtMs: number): void {
    if (expiresAtMs > this.now()) this.revoked.set(sid, expiresAtMs);
  }

  isRevoked(sid: string): boolean {
    const expiresAt = this.revoked.get(sid);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  /** How many revocations are held (for tests and metrics). */
  get size(): number {
    return this.revoked.size;
  }

  private onMessage(msg: DeliveredMessage): void {
    msg.ack();
    let data: unknown;
    try {
      data = (JSON.parse(msg.data) as { data?: unknown }).data;
    } catch {
      this.log.error({ sequence: msg.sequence }, 'unreadable session:revoked message skipped');
      return;
    }
    if (isSyncMarker(data)) {
      if (data.sync === this.marker) this.caughtUp?.();
      return;
    }
    if (!isValidEventData(Subjects.SessionRevoked, data)) {
      this.log.error({ sequence: msg.sequence }, 'malformed session:revoked message skipped');
      return;
    }
    this.revoke(data.id, Date.parse(data.expiresAt));
  }

  private sweep(): void {
    const now = this.now();
    for (const [sid, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(sid);
  }
}

/** A started SessionRevocations: what every service's main awaits before it listens. */
export async function startSessionRevocations(opts: SessionRevocationsOptions): Promise<SessionRevocations> {
  const revocations = new SessionRevocations(opts);
  await revocations.start();
  return revocations;
}
