import { connect, type ConsumerInfo, type JetStreamManager, type NatsConnection } from 'nats';

/**
 * A look at a JetStream server from the outside, for tests: what the server holds (consumers and
 * their pending counts, streams), and raw publishes that bypass the bus's envelope (poison messages).
 */

export async function withJetStream<T>(
  url: string,
  fn: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: url, timeout: 2_000 });
  try {
    return await fn(await nc.jetstreamManager(), nc);
  } finally {
    await nc.close();
  }
}

/** The durable consumers of `stream` that read `filterSubject`. */
export function consumersOf(url: string, stream: string, filterSubject: string): Promise<ConsumerInfo[]> {
  return withJetStream(url, async (jsm) => {
    const all = await jsm.consumers.list(stream).next();
    return all.filter((c) => c.config.filter_subject === filterSubject && c.config.durable_name !== undefined);
  });
}

/** Publishes bytes as they are on a subject (no envelope). */
export function publishRawJetStream(url: string, subject: string, payload: string): Promise<void> {
  return withJetStream(url, async (_jsm, nc) => {
    await nc.jetstream().publish(subject, payload);
  });
}

/**
 * The nats v2 client itself, for code outside common (the bench's baseline): the repository root
 * resolves `nats` to node-nats-streaming's old 1.x dependency.
 */
export { AckPolicy, DeliverPolicy, connect as connectNats } from 'nats';
export type { JsMsg, NatsConnection } from 'nats';
