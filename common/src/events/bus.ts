import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import nats, { type Message, type Stan } from 'node-nats-streaming';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../errors';
import { currentRequestId } from '../log';
import type { Subjects } from './subjects';

export interface BusOptions {
  url: string;
  clusterId: string;
  /** Base client id; made unique per connection attempt (see clientIdFor). */
  clientId: string;
  logger: Logger;
  /** Prepended to every channel name. Tests use it so test files never see each other's events. */
  channelPrefix?: string;
  /** How often the client pings the streaming server; a lost server is noticed after interval × maxPingOut. */
  pingIntervalMs?: number;
  maxPingOut?: number;
  /** How long publish() waits for the server's ack before rejecting. */
  publishTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Backoff between connection attempts, doubled per failure up to max. */
  retryDelayMs?: { min: number; max: number };
}

export interface SubscriptionSpec {
  subject: Subjects;
  /** The consuming service's durable queue group; omitted only by test probes (plain subscription). */
  queueGroup?: string;
  ackWaitMs: number;
  maxInFlight: number;
  /**
   * Where a subscription starts: 'all' (the default) replays the channel's history to a group that
   * never read it; 'new' takes only what is published from now on (a plain subscription that keeps
   * an in-memory view current, and reads the history from the database instead).
   */
  deliver?: 'all' | 'new';
}

interface Registration {
  spec: SubscriptionSpec;
  onMessage: (msg: Message) => void;
}

const CLIENT_ID_INVALID = /[^A-Za-z0-9_-]/g;

/** A client id the streaming server accepts (letters, digits, - and _), unique per process. */
export function makeClientId(service: string, given?: string): string {
  const base =
    given !== undefined && given !== '' ? given : `${service}-${hostname()}-${randomBytes(3).toString('hex')}`;
  return base.replace(CLIENT_ID_INVALID, '_');
}

/**
 * One connection to NATS Streaming that survives server restarts. node-nats-streaming does not
 * recover a streaming session by itself once the server forgets the client (a restart with a memory
 * store, or a long outage), so when the session is lost this class builds a new connection with a
 * fresh client id and subscribes every registered listener again. Durable queue subscriptions
 * resume where the group left off when the server kept them.
 */
export class Bus extends EventEmitter {
  private stan: Stan | undefined;
  private connectedStan: Stan | undefined;
  private readonly registrations: Registration[] = [];
  private closing = false;
  private attempt = 0;
  private firstConnect: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: BusOptions) {
    super();
    this.log = opts.logger.child({ component: 'bus' });
  }

  get isConnected(): boolean {
    return this.connectedStan !== undefined;
  }

  channel(subject: Subjects): string {
    return `${this.opts.channelPrefix ?? ''}${subject}`;
  }

  /** Resolves once connected; keeps retrying with backoff until then (or until close()). */
  connect(): Promise<void> {
    this.firstConnect ??= new Promise<void>((resolve, reject) => {
      const onConnected = (): void => {
        this.off('closed', onClosed);
        resolve();
      };
      const onClosed = (): void => {
        this.off('connected', onConnected);
        reject(new Error('bus closed before it connected'));
      };
      this.once('connected', onConnected);
      this.once('closed', onClosed);
      this.open();
    });
    return this.firstConnect;
  }

  private retryDelay(): number {
    const { min, max } = this.opts.retryDelayMs ?? { min: 100, max: 5_000 };
    return Math.min(max, min * 2 ** Math.min(this.attempt, 16));
  }

  private open(): void {
    if (this.closing) return;
    const clientId = this.attempt === 0 ? this.opts.clientId : `${this.opts.clientId}-${this.attempt}`;
    this.attempt += 1;
    const stan = nats.connect(this.opts.clusterId, clientId, {
      url: this.opts.url,
      connectTimeout: this.opts.connectTimeoutMs ?? 2_000,
      ackTimeout: this.opts.publishTimeoutMs ?? 5_000,
      stanPingInterval: this.opts.pingIntervalMs ?? 5_000,
      stanMaxPingOut: this.opts.maxPingOut ?? 3,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A failed first connection must surface as 'error' so that open()'s backoff (and its log
      // line) takes over; with waitOnFirstConnect the client would retry silently every 250 ms.
      waitOnFirstConnect: false,
    });
    this.stan = stan;
    let up = false;
    stan.on('connect', () => {
      up = true;
      this.attempt = 0;
      this.connectedStan = stan;
      this.log.info({ clientId }, 'connected to NATS Streaming');
      for (const registration of this.registrations) this.subscribeOn(stan, registration);
      this.emit('connected');
    });
    stan.on('error', (err: unknown) => {
      this.log.warn({ err, clientId }, 'NATS Streaming error');
      // A failed first handshake emits only 'error' on some paths: make sure it ends in a retry.
      if (!up) this.drop(stan);
    });
    stan.on('connection_lost', (err: unknown) => {
      this.log.warn({ err, clientId }, 'NATS Streaming session lost');
    });
    // The NATS client reconnects by itself, silently: without these, an outage shorter than
    // pingInterval × maxPingOut would go unnoticed, every publish meanwhile would hang for its ack
    // timeout, and readiness would say "connected" throughout.
    stan.on('disconnect', () => {
      if (this.connectedStan !== stan) return;
      this.log.warn({ clientId }, 'NATS connection lost; publishes fail fast until it is back');
      this.connectedStan = undefined;
      this.emit('disconnected');
    });
    stan.on('reconnect', () => {
      // The TCP connection is back, but whether the streaming session survived is unknown (a server
      // restarted with a memory store has forgotten it). Close it cleanly, which also takes it out
      // of its queue groups at once, and start a fresh session that subscribes everything again.
      this.log.info({ clientId }, 'NATS connection back; starting a new streaming session');
      this.drop(stan);
    });
    stan.on('close', () => this.drop(stan));
  }

  /** Forgets a dead connection and schedules the next attempt. */
  private drop(stan: Stan): void {
    if (this.stan !== stan) return;
    this.stan = undefined;
    if (this.connectedStan === stan) {
      this.connectedStan = undefined;
      this.emit('disconnected');
    }
    try {
      stan.close();
    } catch {
      // Already closed: nothing to release.
    }
    if (this.closing) return;
    const delay = this.retryDelay();
    this.log.info({ delayMs: delay }, 'reconnecting to NATS Streaming');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private subscribeOn(stan: Stan, { spec, onMessage }: Registration): void {
    const options = stan.subscriptionOptions();
    if (spec.deliver !== 'new') options.setDeliverAllAvailable();
    options.setManualAckMode(true).setAckWait(spec.ackWaitMs).setMaxInFlight(spec.maxInFlight);
    const channel = this.channel(spec.subject);
    const subscription =
      spec.queueGroup === undefined
        ? stan.subscribe(channel, options)
        : stan.subscribe(channel, spec.queueGroup, options.setDurableName(spec.queueGroup));
    subscription.on('message', onMessage);
    subscription.on('error', (err: unknown) => {
      this.log.warn({ err, subject: spec.subject }, 'subscription error');
    });
  }

  /** Registers a subscription; it is (re)established on every connection. */
  subscribe(spec: SubscriptionSpec, onMessage: (msg: Message) => void): void {
    const registration = { spec, onMessage };
    this.registrations.push(registration);
    if (this.connectedStan !== undefined) this.subscribeOn(this.connectedStan, registration);
  }

  /**
   * Publishes and resolves once the streaming server has stored the event. This is the untyped
   * transport: code publishes through a typed Publisher<E> or the outbox's stageEvent, which check
   * the payload against its subject at compile time.
   */
  publish(
    subject: Subjects,
    data: unknown,
    meta: { id?: string; requestId?: string; time?: string } = {},
  ): Promise<string> {
    const stan = this.connectedStan;
    if (stan === undefined) {
      return Promise.reject(new ServiceUnavailableError('The event bus is not connected', 'BUS_UNAVAILABLE'));
    }
    const requestId = meta.requestId ?? currentRequestId();
    const envelope = {
      id: meta.id ?? randomUUID(),
      subject,
      time: meta.time ?? new Date().toISOString(),
      ...(requestId === undefined ? {} : { requestId }),
      data,
    };
    return new Promise((resolve, reject) => {
      try {
        stan.publish(this.channel(subject), JSON.stringify(envelope), (err, guid) => {
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve(guid);
        });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const stan = this.stan;
    this.stan = undefined;
    this.connectedStan = undefined;
    this.emit('closed');
    if (stan === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      stan.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        stan.close();
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}
