import { createHash } from 'node:crypto';
import { RetentionPolicy, StorageType, nanos, type JetStreamManager, type StreamConfig } from 'nats';
import { Subjects } from './subjects';

/**
 * JetStream's names and stream set-up for the bus (jetstream-bus.ts, jetstream-consumers.ts,
 * jetstream-delivery.ts) and the dead-letter tool (dead-letters.ts): one events stream and one
 * dead-letter stream per channel prefix, the durable consumer of a queue group on a subject, and the
 * headers a dead letter carries.
 */

export const DEFAULT_MAX_DELIVER = 10;
/** How long JetStream remembers a Nats-Msg-Id: a republish within it is dropped as a duplicate. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** Headers of a dead letter: why and where it failed. */
export const DEAD_LETTER_HEADERS = {
  reason: 'Ticketing-Dlq-Reason',
  subject: 'Ticketing-Dlq-Subject',
  consumer: 'Ticketing-Dlq-Consumer',
  deliveries: 'Ticketing-Dlq-Deliveries',
  sequence: 'Ticketing-Dlq-Sequence',
  stream: 'Ticketing-Dlq-Stream',
  time: 'Ticketing-Dlq-Time',
} as const;

/** Header of a replayed message: the subject it was first published on. */
export const REPLAY_SUBJECT_HEADER = 'Ticketing-Replay-Subject';

const NAME_INVALID = /[^A-Za-z0-9_-]/g;

/** Stream, subject and consumer names for one channel prefix. */
export interface JetStreamNames {
  prefix: string;
  /** The events stream: every subject, and the replay subjects. */
  stream: string;
  deadLetterStream: string;
  streamSubjects: string[];
  deadLetterSubjects: string[];
  channel(subject: string): string;
  /** The durable consumer of a queue group on a subject ("orders-service_ticket_created"). */
  durable(queueGroup: string, subject: string): string;
  /** Where a dead letter of `durable` goes. */
  deadLetterSubject(durable: string): string;
  /** Where a replayed dead letter of `durable` goes: only that consumer reads it. */
  replaySubject(durable: string): string;
}

export function jetStreamNames(prefix = ''): JetStreamNames {
  // Stream names cannot contain '.', '*', '>' (nor anything outside [A-Za-z0-9_-] here); the hash
  // keeps two prefixes that sanitise alike ("a.b" and "a_b") apart.
  const slug = prefix.replace(NAME_INVALID, '_').replace(/_+$/, '');
  const suffix = prefix === '' ? '' : `_${slug}_${createHash('sha1').update(prefix).digest('hex').slice(0, 6)}`;
  const stream = `TICKETING${suffix}`;
  return {
    prefix,
    stream,
    deadLetterStream: `${stream}_DLQ`,
    streamSubjects: [...Object.values(Subjects).map((s) => `${prefix}${s}`), `${prefix}replay.*`],
    deadLetterSubjects: [`${prefix}dlq.*`],
    channel: (subject) => `${prefix}${subject}`,
    durable: (queueGroup, subject) => `${queueGroup}_${subject}`.replace(NAME_INVALID, '_'),
    deadLetterSubject: (durable) => `${prefix}dlq.${durable}`,
    replaySubject: (durable) => `${prefix}replay.${durable}`,
  };
}

/** A JetStream API error's code (10059 stream not found, 10148 consumer exists, ...). */
export function apiErrorCode(err: unknown): number | undefined {
  const apiError = (err as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code;
}

export const STREAM_NOT_FOUND = 10059;

/** Header values are one line. */
export function headerValue(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 2000);
}

export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  let subjects: string[] | undefined;
  try {
    subjects = (await jsm.streams.info(config.name)).config.subjects;
  } catch (err) {
    if (apiErrorCode(err) !== STREAM_NOT_FOUND) throw err;
  }
  if (subjects === undefined) {
    try {
      await jsm.streams.add(config);
      return;
    } catch (err) {
      // Another client created it in between.
      subjects = (await jsm.streams.info(config.name)).config.subjects;
      if (subjects === undefined) throw err;
    }
  }
  // A newer release knows more subjects: add them, keep everything else as it is.
  const missing = (config.subjects ?? []).filter((s) => !subjects.includes(s));
  if (missing.length > 0) {
    const info = await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, { ...info.config, subjects: [...(info.config.subjects ?? []), ...missing] });
  }
}

/** Makes sure the events stream and the dead-letter stream of `names` exist, with every subject. */
export async function ensureStreams(jsm: JetStreamManager, names: JetStreamNames, replicas: number): Promise<void> {
  const common = { storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: replicas };
  await ensureStream(jsm, {
    ...common,
    name: names.stream,
    subjects: names.streamSubjects,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
  await ensureStream(jsm, {
    ...common,
    name: names.deadLetterStream,
    subjects: names.deadLetterSubjects,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}
