import { performance } from 'node:perf_hooks';
import mongoose from 'mongoose';
import { round, summarise, type LatencySummary } from './stats';

/**
 * Open-loop event propagation: creates records at a fixed rate (whatever the answers' pace, up to a
 * cap on outstanding requests), and for each one measures the time from its creation being confirmed
 * (POST answered, or publish acked) to the record being visible in a replica collection.
 *
 * Visibility is detected by a few poll workers reading the replica by _id (an indexed point read,
 * cheap on every MongoDB-compatible server), cycling over the oldest pending records (the next to
 * arrive, events being consumed roughly in order). With a handful pending the detection delay is
 * about a millisecond; when a backlog builds up the polls stay few, so that measuring does not add
 * to the load it measures.
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
  pollWorkers?: number;
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
}

/** How many of the oldest pending records the workers cycle over. */
const POLL_WINDOW = 8;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function propagation(opts: PropagationOptions): Promise<PropagationResult> {
  const maxOutstanding = opts.maxOutstanding ?? 64;
  /** Confirmed, not yet visible: id → [sent at, confirmed at]. */
  const pending = new Map<string, [number, number]>();
  const latencies: number[] = [];
  const endToEnd: number[] = [];
  let failed = 0;
  let creating = true;
  let confirmed = 0;

  const workers = Array.from({ length: opts.pollWorkers ?? 1 }, async (_, w) => {
    let cursor = w;
    for (;;) {
      const ids = [...pending.keys()].slice(0, POLL_WINDOW);
      if (ids.length === 0) {
        if (!creating) return;
        await sleep(0.5);
        continue;
      }
      const id = ids[cursor % ids.length] ?? '';
      cursor += 1;
      const found = await opts.replica.findOne({ _id: new mongoose.Types.ObjectId(id) }, { projection: { _id: 1 } });
      const at = performance.now();
      const since = pending.get(id);
      if (found !== null && since !== undefined) {
        pending.delete(id);
        latencies.push(at - since[1]);
        endToEnd.push(at - since[0]);
      }
    }
  });

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
    const task = opts.create(i).then(
      (id) => {
        if (id === undefined) failed += 1;
        else {
          confirmed += 1;
          pending.set(id, [sentAt, performance.now()]);
        }
      },
      () => {
        failed += 1;
      },
    );
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  const creationMs = performance.now() - started;

  const deadline = performance.now() + (opts.settleTimeoutMs ?? 30_000);
  while (pending.size > 0 && performance.now() < deadline) await sleep(5);
  const missing = pending.size;
  pending.clear();
  creating = false;
  await Promise.all(workers);

  return {
    offeredRate: opts.rate,
    achievedRate: round(confirmed / (creationMs / 1000), 1),
    created: confirmed,
    failed,
    missing,
    latency: summarise(latencies),
    endToEnd: summarise(endToEnd),
  };
}
