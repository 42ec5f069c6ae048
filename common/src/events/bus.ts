import { randomBytes, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { currentRequestId } from '../log';
import type { Subjects } from './subjects';

/**
 * The transport-neutral event bus. Services, listeners, publishers and the outbox only see this
 * interface; NATS Streaming (StanBus, the default) and NATS JetStream (JetStreamBus) implement it,
 * and createBus() picks one from the configuration (EVENT_BUS=stan|jetstream).
 */

export type BusTransport = 'stan' | 'jetstream';
export const BUS_TRANSPORTS: readonly BusTransport[] = ['stan', 'jetstream'];

export interface BusOptions {
  url: string;
  /** NATS Streaming's cluster id; JetStream ignores it. */
  clusterId: string;
  /** Base client id; made unique per connection attempt (see clientIdFor). */
  clientId: string;
  logger: Logger;
  /** Prepended to every channel name. Tests use it so test files never see each other's events. */
  channelPrefix?: string;
  /** How often the client pings the server; a lost server is noticed after interval × maxPingOut. */
  pingIntervalMs?: number;
  maxPingOut?: number;
  /** How long publish() waits for the server's ack before rejecting. */
  publishTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Backoff between connection attempts, doubled per failure up to max. */
  retryDelayMs?: { min: number; max: number };
  /**
   * JetStream only: deliveries of one message before it is moved to the dead-letter stream (the
   * consumer's max_deliver). NATS Streaming redelivers without bound.
   */
  maxDeliver?: number;
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

/** One delivery of a message, whatever the transport. */
export interface DeliveredMessage {
  readonly subject: Subjects;
  /** The payload as sent (the JSON envelope), as UTF-8 text. */
  readonly data: string;
  /** The message's position on the server (channel sequence on NATS Streaming, stream sequence on JetStream). */
  readonly sequence: number;
  /** True when the server delivers this message again (an earlier try was not acked in time). */
  readonly redelivered: boolean;
  /** 1 on the first delivery; undefined where the transport does not count deliveries (NATS Streaming). */
  readonly deliveryCount: number | undefined;
  /** Done: the server forgets the message for this consumer. Never throws. */
  ack(): void;
  /**
   * Handling failed: deliver the message again later (after `retryAfterMs`, the ack wait by
   * default). A transport with bounded redelivery dead-letters it instead when this was the last
   * delivery allowed, with `reason` as the failure reason. Never throws.
   */
  retry(reason: unknown, retryAfterMs?: number): void;
  /**
   * The message can never be handled (poison): set it aside with `reason` and stop delivering it.
   * JetStream keeps it in the dead-letter stream; NATS Streaming has none and only acks it (the
   * caller logs it). Never throws.
   */
  deadLetter(reason: string): void;
}

export interface PublishMeta {
  id?: string;
  requestId?: string;
  time?: string;
}

/**
 * One connection to the bus that survives server restarts: connect() resolves once connected and
 * keeps retrying with backoff until then; every registered subscription is (re)established on each
 * connection. Emits 'connected', 'disconnected' and 'closed'.
 */
export interface EventBus extends EventEmitter {
  readonly transport: BusTransport;
  readonly isConnected: boolean;
  /** The server-side name of a subject's channel (the channel prefix applied). */
  channel(subject: Subjects): string;
  connect(): Promise<void>;
  /** Registers a subscription; it is (re)established on every connection. */
  subscribe(spec: SubscriptionSpec, onMessage: (msg: DeliveredMessage) => void): void;
  /**
   * Publishes and resolves, with the server's id for the message, once the server has stored the
   * event. This is the untyped transport: code publishes through a typed Publisher<E> or the
   * outbox's stageEvent, which check the payload against its subject at compile time. Rejects with
   * 503 BUS_UNAVAILABLE at once while not connected.
   */
  publish(subject: Subjects, data: unknown, meta?: PublishMeta): Promise<string>;
  close(): Promise<void>;
}

/** What services and listeners hold: any transport. */
export type Bus = EventBus;

export interface EventEnvelopeOut {
  id: string;
  subject: Subjects;
  time: string;
  requestId?: string;
  data: unknown;
}

/** The envelope every transport sends: event id (the dedupe key), subject, time, request id, data. */
export function buildEnvelope(subject: Subjects, data: unknown, meta: PublishMeta = {}): EventEnvelopeOut {
  const requestId = meta.requestId ?? currentRequestId();
  return {
    id: meta.id ?? randomUUID(),
    subject,
    time: meta.time ?? new Date().toISOString(),
    ...(requestId === undefined ? {} : { requestId }),
    data,
  };
}

export function errorText(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  return String(reason);
}

const CLIENT_ID_INVALID = /[^A-Za-z0-9_-]/g;

/** A client id the streaming server accepts (letters, digits, - and _), unique per process. */
export function makeClientId(service: string, given?: string): string {
  const base =
    given !== undefined && given !== '' ? given : `${service}-${hostname()}-${randomBytes(3).toString('hex')}`;
  return base.replace(CLIENT_ID_INVALID, '_');
}

/** Backoff shared by both transports: min × 2^attempt, capped at max. */
export function retryDelayFor(opts: BusOptions, attempt: number): number {
  const { min, max } = opts.retryDelayMs ?? { min: 100, max: 5_000 };
  return Math.min(max, min * 2 ** Math.min(attempt, 16));
}

/**
 * What both transports' connect() share: resolves on the bus's first 'connected', rejects if it is
 * closed first; `open` starts the first attempt (the transport retries with backoff after it).
 */
export function untilFirstConnection(bus: EventEmitter, open: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onConnected = (): void => {
      bus.off('closed', onClosed);
      resolve();
    };
    const onClosed = (): void => {
      bus.off('connected', onConnected);
      reject(new Error('bus closed before it connected'));
    };
    bus.once('connected', onConnected);
    bus.once('closed', onClosed);
    open();
  });
}
