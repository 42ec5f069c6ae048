import { performance } from 'node:perf_hooks';
import { ignore, jetStreamRig, stanRig, type PathName, type Rig } from './bus-rigs';
import { median, summarise, type LatencySummary } from './stats';

/**
 * The bus leg on each transport against a plain subscription of the same client library, on the
 * same server, in the same process (used by phases/bus-transports.ts and event-latency.ts):
 *
 *   - bus: Bus.publish (envelope, awaits the server's ack) → Listener (durable queue group, manual
 *     ack, JSON parse, payload validation, request context) → onMessage;
 *   - plain, NATS Streaming: node-nats-streaming's publish of the same bytes → a plain subscribe
 *     with the listener's options (durable queue group, deliver all, manual ack, ack wait, max in
 *     flight 64) that parses them;
 *   - plain, JetStream: nats.js publishing the same bytes (with a Nats-Msg-Id, as the bus does) into
 *     a stream of its own (file storage) → a plain durable pull consumer with the listener's settings
 *     (explicit ack, deliver all, ack wait, max_ack_pending 64) that parses them.
 *
 * Both servers keep their store on disk, as deployed: NATS Streaming with `-store file`, JetStream's
 * streams with file storage. Latency: one event at a time, the two paths alternated event by event
 * (which one goes first alternating too) so that drift hits both alike. Throughput: `events` events
 * published with `window` publishes outstanding, timed from the first publish to the last handler
 * call, the two paths alternated plain, bus, bus, plain twice after a short warm-up of each; the
 * median of the four runs of each is reported (a run is under a second: one descheduled run would
 * move a mean).
 */

export type Transport = 'stan' | 'jetstream';

export interface BusLegOptions {
  /** Timed events one at a time, per path (after `warmup` untimed ones). */
  samples: number;
  warmup: number;
  /** Events per throughput run, and publishes outstanding at once. */
  events: number;
  window: number;
}

export interface ThroughputRun {
  events: number;
  durationMs: number;
  perSecond: number;
}

export interface PathFigures {
  latency: LatencySummary;
  /** The median of the measured throughput runs (4 per path). */
  perSecond: number;
  runs: ThroughputRun[];
}

export interface TransportFigures {
  transport: Transport;
  server: string;
  bus: PathFigures;
  plain: PathFigures;
}

/** Publishes event n on `path` and resolves with the milliseconds until its handler ran. */
async function roundTrip(rig: Rig, path: PathName, n: number): Promise<number> {
  const arrived = new Promise<number>((resolve) => {
    rig.sinks[path] = (m, at) => {
      if (m === n) resolve(at);
    };
  });
  const start = performance.now();
  await rig.publish[path](n);
  const end = await arrived;
  rig.sinks[path] = ignore;
  return end - start;
}

/** `count` events numbered from `first`, `window` publishes outstanding, until the last is handled. */
async function throughput(rig: Rig, path: PathName, first: number, count: number, window: number) {
  const seen = new Uint8Array(count);
  let handled = 0;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<number>((resolve, reject) => {
    rig.sinks[path] = (n, at) => {
      const i = n - first;
      if (i < 0 || i >= count || seen[i] === 1) return;
      seen[i] = 1;
      handled += 1;
      if (handled === count) resolve(at);
    };
    timer = setTimeout(() => reject(new Error(`${path}: ${handled} of ${count} events handled in 60 s`)), 60_000);
  });
  const start = performance.now();
  let next = 0;
  const publisher = async (): Promise<void> => {
    while (next < count) {
      const n = first + next;
      next += 1;
      await rig.publish[path](n);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(window, count) }, publisher));
    const end = await done;
    const durationMs = end - start;
    return { events: count, durationMs: Math.round(durationMs), perSecond: Math.round((count * 1000) / durationMs) };
  } finally {
    clearTimeout(timer);
    rig.sinks[path] = ignore;
  }
}

/** Both paths of one transport: latency one event at a time, then throughput. */
export async function measureTransport(transport: Transport, options: BusLegOptions): Promise<TransportFigures> {
  const rig = transport === 'stan' ? await stanRig() : await jetStreamRig();
  try {
    const latencies: Record<PathName, number[]> = { bus: [], plain: [] };
    let n = 1;
    for (let i = 0; i < options.warmup + options.samples; i += 1, n += 1) {
      // Which path goes first alternates, so neither always runs on a just-woken event loop.
      const order: PathName[] = i % 2 === 0 ? ['bus', 'plain'] : ['plain', 'bus'];
      for (const path of order) {
        const ms = await roundTrip(rig, path, n);
        if (i >= options.warmup) latencies[path].push(ms);
      }
    }
    const runs: Record<PathName, ThroughputRun[]> = { bus: [], plain: [] };
    const warmupEvents = Math.max(1, Math.round(options.events / 5));
    for (const path of ['plain', 'bus'] as const) {
      await throughput(rig, path, n, warmupEvents, options.window);
      n += warmupEvents;
    }
    for (const path of ['plain', 'bus', 'bus', 'plain', 'plain', 'bus', 'bus', 'plain'] as const) {
      runs[path].push(await throughput(rig, path, n, options.events, options.window));
      n += options.events;
    }
    const figures = (path: PathName): PathFigures => ({
      latency: summarise(latencies[path]),
      perSecond: Math.round(median(runs[path].map((r) => r.perSecond))),
      runs: runs[path],
    });
    return { transport, server: rig.server, bus: figures('bus'), plain: figures('plain') };
  } finally {
    await rig.close();
  }
}

/** What the plain path is, for the table and the README. */
export const PLAIN_PATH: Record<Transport, string> = {
  stan: 'plain node-nats-streaming subscribe',
  jetstream: 'plain JetStream pull consumer (nats.js)',
};

export const TRANSPORT_NAME: Record<Transport, string> = { stan: 'NATS Streaming', jetstream: 'JetStream' };
