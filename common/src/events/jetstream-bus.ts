import { EventEmitter } from 'node:events';
import { Events, connect, type NatsConnection } from 'nats';
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
import { JetStreamConsumers } from './jetstream-consumers';
import { DEFAULT_MAX_DELIVER, ensureStreams, jetStreamNames, type JetStreamNames } from './jetstream-names';
import type { Subjects } from './subjects';

/**
 * The bus on NATS JetStream. Per channel prefix (tests give each file its own) one file-stored
 * stream holds every subject, and a second one the dead letters. A listener's queue group becomes
 * one durable pull consumer per service and subject, shared by the service's replicas: explicit
 * acks, the listener's ack wait, deliver all, max_ack_pending = maxInFlight and a bounded
 * max_deliver. A message whose last allowed delivery fails is published to the dead-letter stream
 * with the failure reason, then terminated. Publishes carry Nats-Msg-Id = the event id, so a
 * republish (the outbox after a lost ack) inside the duplicate window is stored once.
 *
 * The nats client reconnects by itself; on every (re)connection this class makes sure the streams
 * and consumers exist (a server that lost its store gets them back) before it reports 'connected'.
 * This file holds the connection's life and publishing; the consumers are in jetstream-consumers.ts
 * and what a delivered message does when settled (including dead-lettering) in jetstream-delivery.ts.
 */

export class JetStreamBus extends EventEmitter implements EventBus {
  readonly transport = 'jetstream' as const;
  readonly names: JetStreamNames;
  private nc: NatsConnection | undefined;
  private ready = false;
  private readonly consumers: JetStreamConsumers;
  private settingUp: Promise<void> | undefined;
  private closing = false;
  private attempt = 0;
  private firstConnect: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: BusOptions & { streamReplicas?: number }) {
    super();
    this.log = opts.logger.child({ component: 'bus', transport: 'jetstream' });
    this.names = jetStreamNames(opts.channelPrefix);
    this.consumers = new JetStreamConsumers({
      log: this.log,
      names: this.names,
      maxDeliver: Math.max(1, opts.maxDeliver ?? DEFAULT_MAX_DELIVER),
      publishTimeoutMs: opts.publishTimeoutMs,
      isClosing: () => this.closing,
      readyConnection: () => (this.ready ? this.nc : undefined),
    });
  }

  get isConnected(): boolean {
    return this.ready;
  }

  channel(subject: Subjects): string {
    return this.names.channel(subject);
  }

  connect(): Promise<void> {
    this.firstConnect ??= untilFirstConnection(this, () => this.open());
    return this.firstConnect;
  }

  private scheduleOpen(): void {
    if (this.closing) return;
    const delay = retryDelayFor(this.opts, this.attempt);
    this.attempt += 1;
    this.log.info({ delayMs: delay }, 'reconnecting to NATS JetStream');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private open(): void {
    if (this.closing) return;
    connect({
      servers: this.opts.url,
      name: this.opts.clientId,
      timeout: this.opts.connectTimeoutMs ?? 2_000,
      pingInterval: this.opts.pingIntervalMs ?? 5_000,
      maxPingOut: this.opts.maxPingOut ?? 3,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A failed first connection must surface so that our backoff (and its log line) takes over.
      waitOnFirstConnect: false,
    }).then(
      (nc) => this.adopt(nc),
      (err: unknown) => {
        this.log.warn({ err }, 'NATS connection failed');
        this.scheduleOpen();
      },
    );
  }

  private adopt(nc: NatsConnection): void {
    if (this.closing) {
      void nc.close();
      return;
    }
    this.nc = nc;
    this.consumers.newConnection();
    this.log.info({ clientId: this.opts.clientId }, 'connected to NATS');
    void this.watchStatus(nc);
    void nc.closed().then((err) => {
      if (this.nc !== nc) return;
      this.nc = undefined;
      this.markDown();
      if (this.closing) return;
      this.log.warn({ err }, 'NATS connection closed; opening a new one');
      this.scheduleOpen();
    });
    this.setUp(nc);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.nc !== nc) return;
      if (status.type === Events.Disconnect) {
        this.log.warn('NATS connection lost; publishes fail fast until it is back');
        this.markDown();
      } else if (status.type === Events.Reconnect) {
        this.log.info('NATS connection back; checking streams and consumers');
        this.setUp(nc);
      }
    }
  }

  private markDown(): void {
    if (!this.ready) return;
    this.ready = false;
    this.emit('disconnected');
  }

  /** Ensures streams and consumers, retrying until it works or the connection changes; then 'connected'. */
  private setUp(nc: NatsConnection): void {
    this.settingUp ??= (async () => {
      let failures = 0;
      for (;;) {
        if (this.closing || this.nc !== nc || nc.isClosed()) return;
        try {
          const jsm = await nc.jetstreamManager();
          await ensureStreams(jsm, this.names, this.opts.streamReplicas ?? 1);
          await this.consumers.startAll(nc, jsm);
          if (this.closing || this.nc !== nc) return;
          this.attempt = 0;
          if (!this.ready) {
            this.ready = true;
            this.emit('connected');
          }
          return;
        } catch (err) {
          // JetStream answers a moment after the server accepts connections (it loads its store).
          const delay = retryDelayFor(this.opts, failures);
          failures += 1;
          this.log.warn({ err, delayMs: delay }, 'JetStream set-up failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    })().finally(() => {
      this.settingUp = undefined;
    });
  }

  subscribe(spec: SubscriptionSpec, onMessage: (msg: DeliveredMessage) => void): void {
    const registration = this.consumers.add(spec, onMessage);
    const nc = this.nc;
    if (nc !== undefined && this.ready) {
      void nc
        .jetstreamManager()
        .then((jsm) => this.consumers.start(nc, jsm, registration))
        .catch((err: unknown) => {
          // The next (re)connection's set-up starts it.
          this.log.warn({ err, subject: spec.subject }, 'subscribing failed');
        });
    }
  }

  async publish(subject: Subjects, data: unknown, meta: PublishMeta = {}): Promise<string> {
    const nc = this.nc;
    if (nc === undefined || !this.ready) {
      throw new ServiceUnavailableError('The event bus is not connected', 'BUS_UNAVAILABLE');
    }
    const envelope = buildEnvelope(subject, data, meta);
    const ack = await nc.jetstream().publish(this.channel(subject), JSON.stringify(envelope), {
      msgID: envelope.id,
      timeout: this.opts.publishTimeoutMs ?? 5_000,
    });
    return `${ack.stream}:${ack.seq}`;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const nc = this.nc;
    this.nc = undefined;
    this.ready = false;
    this.emit('closed');
    if (nc === undefined) return;
    this.consumers.stopAll();
    await Promise.race([
      nc.close().catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }
}
