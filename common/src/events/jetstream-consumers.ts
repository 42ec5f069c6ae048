import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { DeliveredMessage, SubscriptionSpec } from './bus';
import { delivered, type DeliveryContext, type Registration } from './jetstream-delivery';

/**
 * The JetStream bus's subscriptions (jetstream-bus.ts): every registration it keeps for its life,
 * and the consumers behind them. A listener's queue group becomes one durable pull consumer per
 * service and subject (plus its replay consumer), made or updated on every (re)connection and
 * consumed once per connection; a plain subscription becomes an ephemeral consumer without acks,
 * made again from just after the last message it delivered.
 */

/** A pull request's lifetime: also how fast a consumer that lost its server re-pulls. */
const PULL_EXPIRES_MS = 5_000;

export class JetStreamConsumers {
  private readonly registrations: Registration[] = [];
  /** Consumptions started on the current connection. */
  private consuming = new Map<Registration, ConsumerMessages[]>();
  /** Plain subscriptions: the stream sequence each one delivered last. */
  private readonly lastSeen = new Map<Registration, number>();

  constructor(private readonly ctx: DeliveryContext) {}

  /** Keeps a subscription for the life of the bus; start() or the next startAll() consumes it. */
  add(spec: SubscriptionSpec, onMessage: (msg: DeliveredMessage) => void): Registration {
    const registration = { spec, onMessage };
    this.registrations.push(registration);
    return registration;
  }

  /** A new connection: nothing consumes on it yet. */
  newConnection(): void {
    this.consuming = new Map();
  }

  /** Starts every registration on this connection (the set-up after each (re)connection). */
  async startAll(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    for (const registration of this.registrations) await this.start(nc, jsm, registration);
  }

  /** Stops every consumption (the bus is closing). */
  stopAll(): void {
    for (const messages of [...this.consuming.values()].flat()) messages.stop();
    this.consuming.clear();
  }

  private consumerConfig(spec: SubscriptionSpec, durable: string, filter: string): Partial<ConsumerConfig> {
    return {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(spec.ackWaitMs),
      deliver_policy: spec.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      max_ack_pending: Math.max(1, spec.maxInFlight),
      max_deliver: this.ctx.maxDeliver,
      filter_subject: filter,
    };
  }

  private async ensureConsumer(jsm: JetStreamManager, config: Partial<ConsumerConfig>): Promise<void> {
    const name = config.durable_name ?? '';
    try {
      await jsm.consumers.add(this.ctx.names.stream, config);
    } catch (err) {
      // It exists with other settings (a new ack wait or max_deliver): update what can be updated.
      let exists = false;
      try {
        await jsm.consumers.info(this.ctx.names.stream, name);
        exists = true;
      } catch {
        throw err;
      }
      if (exists) {
        const { ack_wait, max_ack_pending, max_deliver } = config;
        await jsm.consumers.update(this.ctx.names.stream, name, {
          ...(ack_wait === undefined ? {} : { ack_wait }),
          ...(max_ack_pending === undefined ? {} : { max_ack_pending }),
          ...(max_deliver === undefined ? {} : { max_deliver }),
        });
      }
    }
  }

  /** Makes sure a registration's consumers exist and, once per connection, starts consuming them. */
  async start(nc: NatsConnection, jsm: JetStreamManager, registration: Registration): Promise<void> {
    const { spec } = registration;
    const names = this.ctx.names;
    const channel = names.channel(spec.subject);
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
        const info = await jsm.consumers.add(names.stream, {
          ack_policy: AckPolicy.None,
          filter_subject: channel,
          inactive_threshold: nanos(60_000),
          ...(last !== undefined
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }
            : { deliver_policy: spec.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All }),
        });
        const consumer = await js.consumers.get(names.stream, info.name);
        started.push(
          await consumer.consume({
            max_messages: Math.max(1, spec.maxInFlight),
            expires: PULL_EXPIRES_MS,
            callback: (m) => {
              if (m.seq <= (this.lastSeen.get(registration) ?? 0)) return;
              this.lastSeen.set(registration, m.seq);
              registration.onMessage(delivered(this.ctx, registration, m, undefined));
            },
          }),
        );
      } catch (err) {
        this.consuming.delete(registration);
        throw err;
      }
      return;
    }
    const durable = names.durable(spec.queueGroup, spec.subject);
    const replay = `${durable}_replay`;
    await this.ensureConsumer(jsm, this.consumerConfig(spec, durable, channel));
    await this.ensureConsumer(jsm, this.consumerConfig(spec, replay, names.replaySubject(durable)));
    if (this.consuming.has(registration)) return;
    const started: ConsumerMessages[] = [];
    this.consuming.set(registration, started);
    try {
      for (const name of [durable, replay]) {
        const consumer = await js.consumers.get(names.stream, name);
        started.push(
          await consumer.consume({
            max_messages: Math.max(1, spec.maxInFlight),
            expires: PULL_EXPIRES_MS,
            callback: (m) => registration.onMessage(delivered(this.ctx, registration, m, durable)),
          }),
        );
      }
    } catch (err) {
      for (const messages of started) messages.stop();
      this.consuming.delete(registration);
      throw err;
    }
  }
}
