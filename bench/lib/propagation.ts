import { performance } from 'node:perf_hooks';
import mongoose from 'mongoose';
import { round, summarise, type LatencySummary } from './stats';

/**
 * Open-loop event propagation: creates records at a fixed rate (whatever the answers' pace, up to a
 * cap on outstanding requests), and for each one measures the time from its creation being confirmed
 * (POST answered, or publish acked) to the record being visible in a replica collection.
 *
 * Visibility is detected by a few poll workers reading the replica by _id (an indexed point read,
 * cheap on every MongoDB-compatible server), each on one of the oldest pending records (the next to
 * arrive, events being consumed roughly in order). The detection delay is about a millisecond, and
 * while records wait the polls are paced, so that measuring adds little to the load it measures.
 * `polls` in the result says how many reads it took.
 */

export interface PropagationOptions {
  /** Records per second offered. */
  rate: number;
  durationMs: number;
  /** Creations in flight at most; past it, the offered rate is not kept (reported as achieved). */
  maxOutstanding?: number;
  /** Creates record number i; resolves with its id once confirmed, undefined when it failed. */
  create: (i: number) => Promise<string | undefined>;
  replica: mongoose.mongo.Collection;
  /** Give up on records not visible this long after the last creation. */
  settleTimeoutMs?: number;
  /** Records polled at once (default POLL_WORKERS). */
  pollWorkers?: number;
  /** Time every n-th record only (default 1, all): a uniform sample, fewer reads to detect it. */
  sampleEvery?: number;
}

export interface PropagationResult {
  offeredRate: number;
  /** Confirmed creations per second over the creation window. */
  achievedRate: number;
  created: number;
  failed: number;
  /** Confirmed but not seen in the replica within the settle timeout (30 s by default). */
  missing: number;
  latency: LatencySummary;
  /**
   * From the creation being sent (request or publish issued) to the record being visible: what a
   * client waits in all. Unlike `latency` it does not move when a service answers earlier or later
   * relative to its publish.
   */
  endToEnd: LatencySummary;
  /** Point reads of the replica made to detect arrivals (the measurement's own load on the database). */
  polls: number;
  /** Records timed (confirmed ones in the sample). */
  sampled: number;
}

/** Point reads in flight at most, each on a different pending record. */
const POLL_WORKERS = 4;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** What the creation loop and the poll workers share while a run lasts. */
interface Tracking {
  /** Confirmed, not yet visible: id → [sent at, confirmed at]. */
  pending: Map<string, [number, number]>;
  /** Pending records a worker is reading now. */
  polling: Set<string>;
  latencies: number[];
  endToEnd: number[];
  failed: number;
  /** False once the run is over: idle workers then return. */
  creating: boolean;
  confirmed: number;
  polls: number;
  sampled: number;
}

/** One poll worker: reads the oldest pending record no other worker is reading, until the run is over. */
async function pollWorker(replica: mongoose.mongo.Collection, t: Tracking): Promise<void> {
  const { pending, polling } = t;
  for (;;) {
    let id: string | undefined;
    for (const key of pending.keys()) {
      if (!polling.has(key)) {
        id = key;
        break;
      }
    }
    if (id === undefined) {
      if (!t.creating) return;
      await sleep(0.5);
      continue;
    }
    polling.add(id);
    t.polls += 1;
    const found = await replica
      .findOne({ _id: new mongoose.Types.ObjectId(id) }, { projection: { _id: 1 } })
      .finally(() => polling.delete(id));
    const at = performance.now();
    const since = pending.get(id);
    if (found === null || since === undefined) {
      await sleep(0.5);
      continue;
    }
    pending.delete(id);
    t.latencies.push(at - since[1]);
    t.endToEnd.push(at - since[0]);
  }
}

/** Creates records at the offered rate for the run's duration; resolves with the milliseconds it took. */
async function createAtRate(opts: PropagationOptions, t: Tracking): Promise<number> {
  const maxOutstanding = opts.maxOutstanding ?? 64;
  const sampleEvery = Math.max(1, Math.floor(opts.sampleEvery ?? 1));
  const started = performance.now();
  const interval = 1000 / opts.rate;
  const inFlight = new Set<Promise<void>>();
  let i = 0;
  for (; ; i += 1) {
    const due = started + i * interval;
    if (due - started >= opts.durationMs) break;
    const now = performance.now();
    if (due > now) await sleep(due - now);
    while (inFlight.size >= maxOutstanding) await Promise.race(inFlight);
    const sentAt = performance.now();
    const timed = i % sampleEvery === 0;
    const task = opts.create(i).then(
      (id) => {
        if (id === undefined) t.failed += 1;
        else {
          t.confirmed += 1;
          if (timed) {
            t.sampled += 1;
            t.pending.set(id, [sentAt, performance.now()]);
          }
        }
      },
      () => {
        t.failed += 1;
      },
    );
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  return performance.now() - started;
}

export async function propagation(opts: PropagationOptions): Promise<PropagationResult> {
  const t: Tracking = {
    pending: new Map(),
    polling: new Set(),
    latencies: [],
    endToEnd: [],
    failed: 0,
    creating: true,
    confirmed: 0,
    polls: 0,
    sampled: 0,
  };

  // Each worker polls the oldest pending record no other worker is polling; records arrive roughly
  // in order, so the workers sit on the next few to arrive. Several, because one poll at a time
  // could not keep up at 500/s (each read is a round trip to a busy server) and the queue of
  // undetected records then showed up as propagation latency: with one worker the p50 at 500/s
  // measured 100-190 ms where four measured 26-57 ms. After a miss a worker pauses about a
  // millisecond (the detection's resolution), so that waiting costs the database little.
  const workers = Array.from({ length: opts.pollWorkers ?? POLL_WORKERS }, () => pollWorker(opts.replica, t));

  const creationMs = await createAtRate(opts, t);

  const { pending } = t;
  const deadline = performance.now() + (opts.settleTimeoutMs ?? 30_000);
  while (pending.size > 0 && performance.now() < deadline) await sleep(5);
  const missing = pending.size;
  pending.clear();
  t.creating = false;
  await Promise.all(workers);

  return {
    offeredRate: opts.rate,
    achievedRate: round(t.confirmed / (creationMs / 1000), 1),
    created: t.confirmed,
    failed: t.failed,
    missing,
    latency: summarise(t.latencies),
    endToEnd: summarise(t.endToEnd),
    polls: t.polls,
    sampled: t.sampled,
  };
}
