import { EventEmitter } from 'node:events';
import {
  AckPolicy,
  DeliverPolicy,
  Events,
  connect,
  headers,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../errors';
import {
  buildEnvelope,
  errorText,
  retryDelayFor,
  type BusOptions,
  type DeliveredMessage,
  type EventBus,
  type PublishMeta,
  type SubscriptionSpec,
  untilFirstConnection,
} from './bus';
import {
  DEAD_LETTER_HEADERS,
  DEFAULT_MAX_DELIVER,
  REPLAY_SUBJECT_HEADER,
  ensureStreams,
  headerValue,
  jetStreamNames,
  type JetStreamNames,
} from './jetstream-names';
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
 */

/** A pull request's lifetime: also how fast a consumer that lost its server re-pulls. */
const PULL_EXPIRES_MS = 5_000;

interface Registration {
  spec: SubscriptionSpec;
  onMessage: (msg: DeliveredMessage) => void;
}

export class JetStreamBus extends EventEmitter implements EventBus {
  readonly transport = 'jetstream' as const;
  readonly names: JetStreamNames;
  private nc: NatsConnection | undefined;
  private ready = false;
  private readonly registrations: Registration[] = [];
  /** Consumptions started on the current connection. */
  private consuming = new Map<Registration, ConsumerMessages[]>();
  /** Plain subscriptions: the stream sequence each one delivered last. */
  private readonly lastSeen = new Map<Registration, number>();
  private settingUp: Promise<void> | undefined;
  private closing = false;
  private attempt = 0;
  private firstConnect: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly maxDeliver: number;

  constructor(private readonly opts: BusOptions & { streamReplicas?: number }) {
    super();
    this.log = opts.logger.child({ component: 'bus', transport: 'jetstream' });
    this.names = jetStreamNames(opts.channelPrefix);
    this.maxDeliver = Math.max(1, opts.maxDeliver ?? DEFAULT_MAX_DELIVER);
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
    this.consuming = new Map();
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
          for (const registration of this.registrations) await this.start(nc, jsm, registration);
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

  private consumerConfig(spec: SubscriptionSpec, durable: string, filter: string): Partial<ConsumerConfig> {
    return {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(spec.ackWaitMs),
      deliver_policy: spec.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      max_ack_pending: Math.max(1, spec.maxInFlight),
      max_deliver: this.maxDeliver,
      filter_subject: filter,
    };
  }

  private async ensureConsumer(jsm: JetStreamManager, config: Partial<ConsumerConfig>): Promise<void> {
    const name = config.durable_name ?? '';
    try {
      await jsm.consumers.add(this.names.stream, config);
    } catch (err) {
      // It exists with other settings (a new ack wait or max_deliver): update what can be updated.
      let exists = false;
      try {
        await jsm.consumers.info(this.names.stream, name);
        exists = true;
      } catch {
        throw err;
      }
      if (exists) {
        const { ack_wait, max_ack_pending, max_deliver } = config;
        await jsm.consumers.update(this.names.stream, name, {
          ...(ack_wait === undefined ? {} : { ack_wait }),
          ...(max_ack_pending === undefined ? {} : { max_ack_pending }),
          ...(max_deliver === undefined ? {} : { max_deliver }),
        });
      }
    }
  }

  /** Makes sure a registration's consumers exist and, once per connection, starts consuming them. */
  private async start(nc: NatsConnection, jsm: JetStreamManager, registration: Registration): Promise<void> {
    const { spec } = registration;
    const channel = this.channel(spec.subject);
    const js = nc.jetstream();
    if (spec.queueGroup === undefined) {
      // A plain subscription (test probes, the bench's baseline): an ephemeral consumer without acks,
      // made again on every connection from just after the last message it delivered (the server
      // may have lost it), so nothing is missed and nothing is delivered twice.
      this.consuming.get(registration)?.forEach((m) => m.stop());
      const started: ConsumerMessages[] = [];
      this.consuming.set(registration, started);
      const last = this.lastSeen.get(registration);
      try {
        const info = await jsm.consumers.add(this.names.stream, {
          ack_policy: AckPolicy.None,
          filter_subject: channel,
          inactive_threshold: nanos(60_000),
          ...(last !== undefined
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }
            : { deliver_policy: spec.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All }),
        });
        const consumer = await js.consumers.get(this.names.stream, info.name);
        started.push(
          await consumer.consume({
            max_messages: Math.max(1, spec.maxInFlight),
            expires: PULL_EXPIRES_MS,
            callback: (m) => {
              if (m.seq <= (this.lastSeen.get(registration) ?? 0)) return;
              this.lastSeen.set(registration, m.seq);
              registration.onMessage(this.delivered(registration, m, undefined));
            },
          }),
        );
      } catch (err) {
        this.consuming.delete(registration);
        throw err;
      }
      return;
    }
    const durable = this.names.durable(spec.queueGroup, spec.subject);
    const replay = `${durable}_replay`;
    await this.ensureConsumer(jsm, this.consumerConfig(spec, durable, channel));
    await this.ensureConsumer(jsm, this.consumerConfig(spec, replay, this.names.replaySubject(durable)));
    if (this.consuming.has(registration)) return;
    const started: ConsumerMessages[] = [];
    this.consuming.set(registration, started);
    try {
      for (const name of [durable, replay]) {
        const consumer = await js.consumers.get(this.names.stream, name);
        started.push(
          await consumer.consume({
            max_messages: Math.max(1, spec.maxInFlight),
            expires: PULL_EXPIRES_MS,
            callback: (m) => registration.onMessage(this.delivered(registration, m, durable)),
          }),
        );
      }
    } catch (err) {
      for (const messages of started) messages.stop();
      this.consuming.delete(registration);
      throw err;
    }
  }

  private delivered(registration: Registration, m: JsMsg, durable: string | undefined): DeliveredMessage {
    const deliveryCount = m.info.deliveryCount;
    let settled = false;
    const settle = (what: string, fn: () => void): void => {
      if (settled || durable === undefined) return;
      settled = true;
      try {
        fn();
      } catch (err) {
        // The connection died under us: the server will redeliver, and handlers are idempotent.
        this.log.warn({ err }, `${what} failed`);
      }
    };
    const deadLetter = (reason: string): void => {
      if (settled || durable === undefined) return;
      settled = true;
      void this.deadLetter(registration, m, durable, reason);
    };
    return {
      subject: registration.spec.subject,
      data: m.string(),
      sequence: m.seq,
      redelivered: m.redelivered,
      deliveryCount,
      ack: () => settle('ack', () => m.ack()),
      retry: (reason, retryAfterMs) => {
        if (deliveryCount >= this.maxDeliver) deadLetter(errorText(reason));
        else settle('nak', () => m.nak(retryAfterMs ?? registration.spec.ackWaitMs));
      },
      deadLetter,
    };
  }

  /**
   * Publishes the message to the dead-letter stream with why and where it failed, then terminates
   * it. Retried while the bus is down, with "still working" signals so the server does not give the
   * message up meanwhile; if it never succeeds the failure is logged with everything it would have
   * carried.
   */
  private async deadLetter(registration: Registration, m: JsMsg, durable: string, reason: string): Promise<void> {
    const originalSubject = m.headers?.get(REPLAY_SUBJECT_HEADER) || this.channel(registration.spec.subject);
    const h = headers();
    h.set(DEAD_LETTER_HEADERS.reason, headerValue(reason));
    h.set(DEAD_LETTER_HEADERS.subject, originalSubject);
    h.set(DEAD_LETTER_HEADERS.consumer, durable);
    h.set(DEAD_LETTER_HEADERS.deliveries, String(m.info.deliveryCount));
    h.set(DEAD_LETTER_HEADERS.sequence, String(m.seq));
    h.set(DEAD_LETTER_HEADERS.stream, m.info.stream);
    h.set(DEAD_LETTER_HEADERS.time, new Date().toISOString());
    const facts = { consumer: durable, sequence: m.seq, deliveries: m.info.deliveryCount, reason };
    for (let attempt = 0; attempt < 20 && !this.closing; attempt += 1) {
      const nc = this.nc;
      try {
        if (nc === undefined || !this.ready) throw new Error('bus not connected');
        await nc.jetstream().publish(this.names.deadLetterSubject(durable), m.data, {
          headers: h,
          // A retried dead-lettering is stored once.
          msgID: `${m.info.stream}:${durable}:${m.seq}:${m.info.deliveryCount}`,
          timeout: this.opts.publishTimeoutMs ?? 5_000,
        });
        // No reason argument: '+TERM <reason>' is only understood from server 2.10.4 (Debian has 2.9).
        m.term();
        this.log.error(facts, 'message dead-lettered');
        return;
      } catch (err) {
        try {
          m.working();
        } catch {
          // Nothing to extend on a dead connection.
        }
        this.log.warn({ err, ...facts }, 'dead-lettering failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, registration.spec.ackWaitMs / 4)));
      }
    }
    this.log.error(facts, 'could not dead-letter the message: it is dropped from the consumer');
  }

  subscribe(spec: SubscriptionSpec, onMessage: (msg: DeliveredMessage) => void): void {
    const registration = { spec, onMessage };
    this.registrations.push(registration);
    const nc = this.nc;
    if (nc !== undefined && this.ready) {
      void nc
        .jetstreamManager()
        .then((jsm) => this.start(nc, jsm, registration))
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
    for (const messages of [...this.consuming.values()].flat()) messages.stop();
    this.consuming.clear();
    await Promise.race([
      nc.close().catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }
}
