import { headers, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { errorText, type DeliveredMessage, type SubscriptionSpec } from './bus';
import { DEAD_LETTER_HEADERS, REPLAY_SUBJECT_HEADER, headerValue, type JetStreamNames } from './jetstream-names';

/**
 * What the JetStream bus (jetstream-bus.ts) hands a listener for each message, and what happens when
 * the listener settles it: ack, nak with a delay, or, on the last allowed delivery, dead-lettering,
 * which publishes the message to the dead-letter stream with the failure reason and then terminates
 * it. The consumers that deliver the messages are in jetstream-consumers.ts.
 */

export interface Registration {
  spec: SubscriptionSpec;
  onMessage: (msg: DeliveredMessage) => void;
}

/** What settling and dead-lettering need from the bus they run in. */
export interface DeliveryContext {
  readonly log: Logger;
  readonly names: JetStreamNames;
  readonly maxDeliver: number;
  readonly publishTimeoutMs: number | undefined;
  /** True once the bus is closing: dead-lettering stops retrying. */
  isClosing(): boolean;
  /** The connection while the bus is connected (streams and consumers set up), else undefined. */
  readyConnection(): NatsConnection | undefined;
}

export function delivered(
  ctx: DeliveryContext,
  registration: Registration,
  m: JsMsg,
  durable: string | undefined,
): DeliveredMessage {
  const deliveryCount = m.info.deliveryCount;
  let settled = false;
  const settle = (what: string, fn: () => void): void => {
    if (settled || durable === undefined) return;
    settled = true;
    try {
      fn();
    } catch (err) {
      // The connection died under us: the server will redeliver, and handlers are idempotent.
      ctx.log.warn({ err }, `${what} failed`);
    }
  };
  const deadLetter = (reason: string): void => {
    if (settled || durable === undefined) return;
    settled = true;
    void deadLetterMessage(ctx, registration, m, durable, reason);
  };
  return {
    subject: registration.spec.subject,
    data: m.string(),
    sequence: m.seq,
    redelivered: m.redelivered,
    deliveryCount,
    ack: () => settle('ack', () => m.ack()),
    retry: (reason, retryAfterMs) => {
      if (deliveryCount >= ctx.maxDeliver) deadLetter(errorText(reason));
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
async function deadLetterMessage(
  ctx: DeliveryContext,
  registration: Registration,
  m: JsMsg,
  durable: string,
  reason: string,
): Promise<void> {
  const originalSubject = m.headers?.get(REPLAY_SUBJECT_HEADER) || ctx.names.channel(registration.spec.subject);
  const h = headers();
  h.set(DEAD_LETTER_HEADERS.reason, headerValue(reason));
  h.set(DEAD_LETTER_HEADERS.subject, originalSubject);
  h.set(DEAD_LETTER_HEADERS.consumer, durable);
  h.set(DEAD_LETTER_HEADERS.deliveries, String(m.info.deliveryCount));
  h.set(DEAD_LETTER_HEADERS.sequence, String(m.seq));
  h.set(DEAD_LETTER_HEADERS.stream, m.info.stream);
  h.set(DEAD_LETTER_HEADERS.time, new Date().toISOString());
  const facts = { consumer: durable, sequence: m.seq, deliveries: m.info.deliveryCount, reason };
  for (let attempt = 0; attempt < 20 && !ctx.isClosing(); attempt += 1) {
    const nc = ctx.readyConnection();
    try {
      if (nc === undefined) throw new Error('bus not connected');
      await nc.jetstream().publish(ctx.names.deadLetterSubject(durable), m.data, {
        headers: h,
        // A retried dead-lettering is stored once.
        msgID: `${m.info.stream}:${durable}:${m.seq}:${m.info.deliveryCount}`,
        timeout: ctx.publishTimeoutMs ?? 5_000,
      });
      // No reason argument: '+TERM <reason>' is only understood from server 2.10.4 (Debian has 2.9).
      m.term();
      ctx.log.error(facts, 'message dead-lettered');
      return;
    } catch (err) {
      try {
        m.working();
      } catch {
        // Nothing to extend on a dead connection.
      }
      ctx.log.warn({ err, ...facts }, 'dead-lettering failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, registration.spec.ackWaitMs / 4)));
    }
  }
  ctx.log.error(facts, 'could not dead-letter the message: it is dropped from the consumer');
}
