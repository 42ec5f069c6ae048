import { EventEmitter } from 'node:events';
import nats, { type Message, type Stan } from 'node-nats-streaming';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../errors';
import {
  buildEnvelope,
  retryDelayFor,
  type BusOptions,
  type DeliveredMessage,
  type EventBus,
  type PublishMeta,
  type SubscriptionSpec,
  untilFirstConnection,
} from './bus';
import type { Subjects } from './subjects';

interface Registration {
  spec: SubscriptionSpec;
  onMessage: (msg: DeliveredMessage) => void;
}

/**
 * One connection to NATS Streaming that survives server restarts. node-nats-streaming does not
 * recover a streaming session by itself once the server forgets the client (a restart with a memory
 * store, or a long outage), so when the session is lost this class builds a new connection with a
 * fresh client id and subscribes every registered listener again. Durable queue subscriptions
 * resume where the group left off when the server kept them.
 */
export class StanBus extends EventEmitter implements EventBus {
  readonly transport = 'stan' as const;
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
    this.firstConnect ??= untilFirstConnection(this, () => this.open());
    return this.firstConnect;
  }

  private retryDelay(): number {
    return retryDelayFor(this.opts, this.attempt);
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
    subscription.on('message', (msg: Message) => onMessage(deliveredStan(spec.subject, msg, this.log)));
    subscription.on('error', (err: unknown) => {
      this.log.warn({ err, subject: spec.subject }, 'subscription error');
    });
  }

  /** Registers a subscription; it is (re)established on every connection. */
  subscribe(spec: SubscriptionSpec, onMessage: (msg: DeliveredMessage) => void): void {
    const registration = { spec, onMessage };
    this.registrations.push(registration);
    if (this.connectedStan !== undefined) this.subscribeOn(this.connectedStan, registration);
  }

  publish(subject: Subjects, data: unknown, meta: PublishMeta = {}): Promise<string> {
    const stan = this.connectedStan;
    if (stan === undefined) {
      return Promise.reject(new ServiceUnavailableError('The event bus is not connected', 'BUS_UNAVAILABLE'));
    }
    const envelope = buildEnvelope(subject, data, meta);
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

/**
 * A NATS Streaming delivery behind the neutral interface. The streaming server redelivers an
 * unacked message after its ack wait without bound and has no dead letters: retry() leaves the
 * message unacked, deadLetter() acks it (the caller logged it).
 */
function deliveredStan(subject: Subjects, msg: Message, log: Logger): DeliveredMessage {
  const ack = (): void => {
    try {
      msg.ack();
    } catch (err) {
      // The connection died under us: the server will redeliver, and handlers are idempotent.
      log.warn({ err }, 'ack failed');
    }
  };
  const raw = msg.getData();
  return {
    subject,
    data: Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw),
    sequence: msg.getSequence(),
    redelivered: msg.isRedelivered(),
    deliveryCount: undefined,
    ack,
    retry: () => {},
    deadLetter: ack,
  };
}
