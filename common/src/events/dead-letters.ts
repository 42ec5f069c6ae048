import { connect, headers, type JetStreamManager, type NatsConnection, type StoredMsg } from 'nats';
import { DEAD_LETTER_HEADERS, REPLAY_SUBJECT_HEADER, jetStreamNames } from './jetstream-names';

/**
 * The dead letters of a JetStream bus (messages whose last allowed delivery failed, and poison
 * messages), and their replay. A replay goes to the replay subject of the consumer that failed it,
 * so only that service sees the message again; the others had handled it. `npm run dlq` is the
 * command line for these (infra/dev/dlq.ts).
 */

export interface DeadLetterTarget {
  url: string;
  /** The channel prefix of the bus (empty in deployments). */
  channelPrefix?: string;
}

export interface DeadLetter {
  /** Its sequence in the dead-letter stream: what `replay <seq>` takes. */
  sequence: number;
  /** The subject it was published on. */
  subject: string;
  /** The durable consumer that gave up on it. */
  consumer: string;
  reason: string;
  deliveries: number;
  /** Its sequence in the events stream. */
  originalSequence: number;
  failedAt: string;
  /** The event id of its envelope, when it has one. */
  eventId: string | undefined;
  /** The payload as published. */
  data: string;
}

const NO_MESSAGE = 10037;

async function withManager<T>(
  target: DeadLetterTarget,
  fn: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: target.url, timeout: 5_000 });
  try {
    return await fn(await nc.jetstreamManager(), nc);
  } finally {
    await nc.close();
  }
}

function eventIdOf(data: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(data);
    const id = (parsed as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function toDeadLetter(msg: StoredMsg): DeadLetter {
  const h = (name: string): string => msg.header.get(name);
  const data = msg.string();
  return {
    sequence: msg.seq,
    subject: h(DEAD_LETTER_HEADERS.subject),
    consumer: h(DEAD_LETTER_HEADERS.consumer),
    reason: h(DEAD_LETTER_HEADERS.reason),
    deliveries: Number(h(DEAD_LETTER_HEADERS.deliveries)),
    originalSequence: Number(h(DEAD_LETTER_HEADERS.sequence)),
    failedAt: h(DEAD_LETTER_HEADERS.time),
    eventId: eventIdOf(data),
    data,
  };
}

async function readAll(jsm: JetStreamManager, stream: string): Promise<DeadLetter[]> {
  let state;
  try {
    state = (await jsm.streams.info(stream)).state;
  } catch (err) {
    // No dead-letter stream yet: no bus ever connected with this prefix.
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10059) return [];
    throw err;
  }
  const letters: DeadLetter[] = [];
  if (state.messages === 0) return letters;
  for (let seq = state.first_seq; seq <= state.last_seq; seq += 1) {
    try {
      letters.push(toDeadLetter(await jsm.streams.getMessage(stream, { seq })));
    } catch (err) {
      // Replayed (deleted) ones leave gaps.
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== NO_MESSAGE) throw err;
    }
  }
  return letters;
}

export function listDeadLetters(target: DeadLetterTarget): Promise<DeadLetter[]> {
  const names = jetStreamNames(target.channelPrefix);
  return withManager(target, (jsm) => readAll(jsm, names.deadLetterStream));
}

/**
 * Replays one dead letter (by its sequence) or all of them to the consumers that failed them, then
 * removes them from the dead-letter stream. Resolves with what it replayed; rejects for a sequence
 * that is not a dead letter.
 */
export function replayDeadLetters(target: DeadLetterTarget, which: number | 'all'): Promise<DeadLetter[]> {
  const names = jetStreamNames(target.channelPrefix);
  return withManager(target, async (jsm, nc) => {
    const all = await readAll(jsm, names.deadLetterStream);
    const chosen = which === 'all' ? all : all.filter((l) => l.sequence === which);
    if (which !== 'all' && chosen.length === 0) throw new Error(`no dead letter with sequence ${which}`);
    const js = nc.jetstream();
    for (const letter of chosen) {
      const h = headers();
      h.set(REPLAY_SUBJECT_HEADER, letter.subject);
      await js.publish(names.replaySubject(letter.consumer), letter.data, {
        headers: h,
        // A replay run twice (interrupted before the delete) is stored once.
        msgID: `replay:${names.deadLetterStream}:${letter.sequence}`,
      });
      await jsm.streams.deleteMessage(names.deadLetterStream, letter.sequence);
    }
    return chosen;
  });
}
