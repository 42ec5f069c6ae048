import { addCpu, sampleCpu, type ProcessGroups } from './cpu';
import { load, type LoadResult, type LoadSpec } from './load';
import { round } from './stats';

/** A load of ours against its baseline's, with the CPU each spent when processes were given. */

export interface Compared {
  ours: LoadResult;
  baseline: LoadResult;
  /** Milliseconds of CPU per 2xx answer, by process group (when processes were given). */
  cpu?: { ours: Record<string, number>; baseline: Record<string, number> };
}

/** Runs a load while counting the CPU each group of processes spends on it. */
export async function loadCounting(
  spec: LoadSpec,
  groups: ProcessGroups,
  totals: Record<string, number>,
): Promise<LoadResult> {
  const before = sampleCpu(groups);
  const result = await load(spec);
  addCpu(totals, before, sampleCpu(groups));
  return result;
}

export function perRequest(totals: Record<string, number>, answered: number): Record<string, number> {
  return Object.fromEntries(Object.entries(totals).map(([name, s]) => [name, round((s * 1000) / answered, 2)]));
}

/** Averages several runs of the same load (alternated with the baseline's, so drift hits both). */
export function merge(runs: LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number): number => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
  const sum = (pick: (r: LoadResult) => number): number => runs.reduce((total, r) => total + pick(r), 0);
  return {
    rps: round(mean((r) => r.rps)),
    p50: round(mean((r) => r.p50)),
    p99: round(mean((r) => r.p99)),
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    durationS: round(
      sum((r) => r.durationS),
      2,
    ),
  };
}

/** One second of load: enough to open connections and fill caches where the JIT does not matter. */
export const SHORT_WARMUP: Partial<LoadSpec> = { durationS: 1 };

/**
 * Until V8 has optimised the hot path. A service's first few thousand requests also pay for its
 * background compiler threads: on 2 cores, measured on the tickets service alone, they took 35–40%
 * of a core over the first 3,000 requests and under 15% after 5,000, while its main thread went from
 * 78% to 88% busy. A long-running service is past that, so both sides are measured past it too.
 */
export const JIT_WARMUP: Partial<LoadSpec> = { durationS: 20, maxRequests: 5_000 };

/**
 * Warms both up, then alternates baseline and ours. `quiet` runs before each measured round: it
 * waits until the system has digested the previous round (events replicated, outboxes tidied), so
 * that no round pays for work another one caused.
 */
export async function compare(
  baseline: LoadSpec,
  ours: LoadSpec,
  quiet: () => Promise<void> = async () => undefined,
  processes?: { ours: ProcessGroups; baseline: ProcessGroups },
  warmup: Partial<LoadSpec> = SHORT_WARMUP,
  rounds = 2,
): Promise<Compared> {
  await load({ ...baseline, ...warmup, amount: undefined });
  await quiet();
  await load({ ...ours, ...warmup, amount: undefined });
  const b: LoadResult[] = [];
  const o: LoadResult[] = [];
  const cpuOurs: Record<string, number> = {};
  const cpuBaseline: Record<string, number> = {};
  for (let r = 0; r < rounds; r += 1) {
    await quiet();
    b.push(await loadCounting(baseline, processes?.baseline ?? {}, cpuBaseline));
    await quiet();
    o.push(await loadCounting(ours, processes?.ours ?? {}, cpuOurs));
  }
  const compared: Compared = { ours: merge(o), baseline: merge(b) };
  if (processes !== undefined) {
    compared.cpu = {
      ours: perRequest(cpuOurs, compared.ours.ok),
      baseline: perRequest(cpuBaseline, compared.baseline.ok),
    };
  }
  return compared;
}
