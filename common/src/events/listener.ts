import type { Logger } from 'pino';
import { reportError } from '../errors';
import { requestContext } from '../log';
import { eventHandlingDuration, eventLag, secondsSince, type EventOutcome } from '../metrics';
import type { Bus, DeliveredMessage } from './bus';
import type { BusEvent, EventEnvelope } from './events';
import { eventDataProblem } from './validate';

export interface MessageContext {
  eventId: string;
  /** True when the server delivers this message again (an earlier try was not acked in time). */
  redelivered: boolean;
  sequence: number;
  requestId?: string;
  /** When the event was published (its envelope's time); undefined if the envelope had none readable. */
  publishedAt?: Date;
}

/**
 * Thrown by a handler for an event that cannot be applied yet (it comes from the future: the
 * replica has not seen the previous version). The message is redelivered after the ack wait, by
 * which time the missing event has usually arrived.
 */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

function parseEnvelope(raw: string): EventEnvelope | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const envelope = parsed as Partial<EventEnvelope>;
    if (typeof envelope.id !== 'string' || !('data' in envelope)) return undefined;
    return envelope as EventEnvelope;
  } catch {
    return undefined;
  }
}

export interface ListenerOptions {
  /** Overrides the listener's ack wait (tests use 1 s so redeliveries come quickly). */
  ackWaitMs?: number;
  maxInFlight?: number;
}

/**
 * Base of every listener: one durable queue group per consuming service, manual acks, and an ack
 * only after onMessage resolved (its effect is stored). Any failure is caught and logged and the
 * message is left for redelivery, so one bad event never stops the process (JetStream bounds the
 * redeliveries and then dead-letters it); a message that cannot ever be valid (bad JSON, wrong
 * shape) is set aside as poison after logging it (acked on NATS Streaming, dead-lettered on JetStream).
 */
export abstract class Listener<E extends BusEvent> {
  abstract readonly subject: E['subject'];
  abstract readonly queueGroupName: string;
  /** How long the server waits for an ack before delivering the message again. */
  protected ackWaitMs = 5_000;
  protected maxInFlight = 64;
  /**
   * True for a listener that every replica runs for itself, on a plain subscription taking only new
   * events, to keep an in-memory view current (the view reads the history from the database). False
   * for the usual one delivery per service, shared by its replicas (the durable queue group).
   */
  protected readonly everyReplica: boolean = false;
  protected readonly log: Logger;

  constructor(
    protected readonly bus: Bus,
    logger: Logger,
    opts: ListenerOptions = {},
  ) {
    this.log = logger.child({ component: 'listener', listener: new.target.name });
    this.overrides = opts;
  }

  private readonly overrides: ListenerOptions;

  abstract onMessage(data: E['data'], ctx: MessageContext): Promise<void>;

  listen(): this {
    this.bus.subscribe(
      {
        subject: this.subject,
        ...(this.everyReplica ? { deliver: 'new' as const } : { queueGroup: this.queueGroupName }),
        // The streaming server refuses ack waits under one second.
        ackWaitMs: Math.max(1_000, this.overrides.ackWaitMs ?? this.ackWaitMs),
        maxInFlight: this.overrides.maxInFlight ?? this.maxInFlight,
      },
      (msg) => void this.handle(msg),
    );
    return this;
  }

  private async handle(msg: DeliveredMessage): Promise<void> {
    const end = eventHandlingDuration.startTimer({ subject: this.subject, queue_group: this.queueGroupName });
    const outcome = await this.handleOnce(msg);
    end({ outcome });
  }

  private async handleOnce(msg: DeliveredMessage): Promise<EventOutcome> {
    const envelope = parseEnvelope(msg.data);
    const problem = envelope === undefined ? undefined : eventDataProblem(this.subject, envelope.data);
    if (envelope === undefined || problem !== undefined) {
      const reason =
        envelope === undefined ? 'not a JSON event envelope' : `invalid ${this.subject} payload: ${problem}`;
      this.log.error({ sequence: msg.sequence, reason, raw: msg.data.slice(0, 500) }, 'poison message set aside');
      msg.deadLetter(reason);
      return 'poison';
    }
    const publishedAt = typeof envelope.time === 'string' ? new Date(envelope.time) : undefined;
    const ctx: MessageContext = {
      eventId: envelope.id,
      redelivered: msg.redelivered,
      sequence: msg.sequence,
      ...(envelope.requestId === undefined ? {} : { requestId: envelope.requestId }),
      ...(publishedAt === undefined || Number.isNaN(publishedAt.getTime()) ? {} : { publishedAt }),
    };
    try {
      await requestContext.run({ requestId: envelope.requestId ?? envelope.id }, () =>
        this.onMessage(envelope.data as E['data'], ctx),
      );
      msg.ack();
      if (ctx.publishedAt !== undefined) {
        eventLag.observe(
          { subject: this.subject, queue_group: this.queueGroupName },
          secondsSince(ctx.publishedAt.getTime()),
        );
      }
      return 'acked';
    } catch (err) {
      msg.retry(err);
      if (err instanceof RetryLaterError)
        this.log.info({ eventId: ctx.eventId, reason: err.message }, 'event deferred');
      else
        reportError(
          this.log,
          err,
          'listener',
          { eventId: ctx.eventId, sequence: ctx.sequence },
          'event handling failed; will be redelivered',
        );
      return 'retried';
    }
  }
}
