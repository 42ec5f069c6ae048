/**
 * The checks of a test:deploy run: each one printed as PASS or FAIL as it happens, and all of them
 * written to .deploy-results.json at the end (numPassed, numFailed, checks, images) for .ci/run.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ImageReport {
  image: string;
  target: string;
  sizeMB: number;
  budgetMB: number;
  buildSeconds: number;
}

export const checks: Check[] = [];
export const images: ImageReport[] = [];

export const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function record(name: string, ok: boolean, detail: string): boolean {
  checks.push({ name, ok, detail });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail === '' ? '' : `: ${detail}`}`);
  return ok;
}

export async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
  try {
    return record(name, true, await fn());
  } catch (error) {
    return record(name, false, error instanceof Error ? error.message : String(error));
  }
}

export function fail(message: string): never {
  throw new Error(message);
}

/** Writes the results file, prints the summary and its last line "deploy: N passed, M failed". */
export function writeResults(resultsFile: string, startedAt: number, timings: Record<string, number>): number {
  const numFailed = checks.filter((c) => !c.ok).length;
  const numPassed = checks.length - numFailed;
  const durationSeconds = Math.round((Date.now() - startedAt) / 1000);
  writeFileSync(
    resultsFile,
    `${JSON.stringify({ numPassed, numFailed, durationSeconds, timings, images, checks }, null, 2)}\n`,
  );
  log('\nimage sizes:');
  for (const i of images)
    log(
      `  ${i.image.padEnd(48)} ${String(i.sizeMB).padStart(5)} MB (budget ${i.budgetMB} MB, built in ${i.buildSeconds} s)`,
    );
  log(
    `phases (s): ${Object.entries(timings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; total ${durationSeconds} s`,
  );
  log(`results: ${path.relative(process.cwd(), resultsFile)}`);
  log(`deploy: ${numPassed} passed, ${numFailed} failed`);
  return numFailed;
}
