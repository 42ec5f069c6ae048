import type { Compared } from './compare';
import type { PropagationResult } from './propagation';
import type { Row } from './report';
import { ratio, round } from './stats';

/** The table's rows for each kind of figure: a load, its CPU by process, a propagation run. */

export function cpuRows(name: string, c: Compared): Row[] {
  if (c.cpu === undefined) return [];
  const { ours, baseline } = c.cpu;
  const rows: Row[] = [];
  const labels: Record<string, string> = {
    service: 'the service process',
    database: 'the database server',
    downstream: 'downstream (orders, NATS)',
  };
  for (const [group, label] of Object.entries(labels)) {
    const o = ours[group];
    if (o === undefined) continue;
    const b = baseline[group];
    rows.push({
      figure: `${name} CPU per request: ${label}`,
      unit: 'ms',
      ours: o,
      ...(b === undefined ? {} : { baseline: b, ratio: ratio(o, b) }),
    });
  }
  return rows;
}

export function loadRows(name: string, c: Compared, goal?: { min: number }): Row[] {
  const throughput = ratio(c.ours.rps, c.baseline.rps);
  const failures = c.ours.non2xx + c.ours.errors;
  return [
    {
      figure: `${name} throughput`,
      unit: 'req/s',
      ours: c.ours.rps,
      baseline: c.baseline.rps,
      ratio: throughput,
      ...(goal === undefined ? {} : { goal: `>= ${goal.min}x`, met: throughput >= goal.min }),
      ...(failures > 0 ? { note: `${c.ours.non2xx} non-2xx answers and ${c.ours.errors} errors` } : {}),
    },
    {
      figure: `${name} p50`,
      unit: 'ms',
      ours: c.ours.p50,
      baseline: c.baseline.p50,
      ratio: ratio(c.ours.p50, c.baseline.p50),
    },
    {
      figure: `${name} p99`,
      unit: 'ms',
      ours: c.ours.p99,
      baseline: c.baseline.p99,
      ratio: ratio(c.ours.p99, c.baseline.p99),
    },
  ];
}

/**
 * A propagation run's p50 and p99 against the baseline's. With `goalRatio`, the p99 row's goal is
 * that ratio: ours against the plain subscriber's offered the rate we sustained (an absolute p99
 * says more about the machine than about the system; the same rate on the same machine does not).
 */
export function propagationRows(
  name: string,
  ours: PropagationResult,
  baseline: PropagationResult | undefined,
  goalRatio?: number,
): Row[] {
  const achieved =
    `offered ${ours.offeredRate}/s, achieved ${ours.achievedRate}/s` +
    (ours.failed + ours.missing > 0 ? `, ${ours.failed} failed, ${ours.missing} not replicated within 30 s` : '') +
    (baseline === undefined ? '' : `; baseline achieved ${baseline.achievedRate}/s`) +
    `; ${ours.sampled} records timed (${(ours.polls / Math.max(1, ours.sampled)).toFixed(1)} replica reads each)`;
  return [
    {
      figure: `${name} p50`,
      unit: 'ms',
      ours: round(ours.latency.p50),
      ...(baseline === undefined
        ? {}
        : { baseline: round(baseline.latency.p50), ratio: ratio(ours.latency.p50, baseline.latency.p50) }),
      note: achieved,
    },
    {
      figure: `${name} p99`,
      unit: 'ms',
      ours: round(ours.latency.p99),
      ...(baseline === undefined
        ? {}
        : { baseline: round(baseline.latency.p99), ratio: ratio(ours.latency.p99, baseline.latency.p99) }),
      ...(goalRatio === undefined || baseline === undefined
        ? {}
        : {
            goal: `<= ${goalRatio}x the plain subscriber's at the sustained rate`,
            met: ratio(ours.latency.p99, baseline.latency.p99) <= goalRatio && ours.missing === 0,
          }),
    },
  ];
}
