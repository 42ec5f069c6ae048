import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time of processes, from /proc (Linux): where the CPU of a request goes, process by process.
 * On other systems, or for a process that is gone, nothing is reported (the bench leaves the rows out).
 */

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_S = 100;

/** CPU seconds (user + system) the process has used so far; undefined when unknown. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose command line matches `pattern` (pgrep -f), this process excluded; [] when none or no pgrep. */
export function pidsMatching(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid && cpuSeconds(pid) !== undefined);
  } catch {
    return [];
  }
}

/** Named groups of processes, e.g. { service: [pid], database: [pid] }. */
export type ProcessGroups = Record<string, number[]>;

/** CPU seconds used so far by each group; a group none of whose processes can be read is left out. */
export function sampleCpu(groups: ProcessGroups): Record<string, number> {
  const sample: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    const times = pids.map(cpuSeconds).filter((t): t is number => t !== undefined);
    if (times.length > 0) sample[name] = times.reduce((sum, t) => sum + t, 0);
  }
  return sample;
}

/** Adds the CPU each group used between two samples to `totals`. */
export function addCpu(
  totals: Record<string, number>,
  before: Record<string, number>,
  after: Record<string, number>,
): void {
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (start !== undefined) totals[name] = (totals[name] ?? 0) + (end - start);
  }
}
