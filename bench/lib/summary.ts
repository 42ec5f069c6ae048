import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serviceWarnings } from './log';
import { formatTable, type Row } from './report';
import { round } from './stats';

/** Prints the table with the run's notes on stdout and writes everything to bench/results.json. */
export function printAndSave(
  results: { rows: Row[]; raw: Record<string, unknown>; notes: string[]; settling: string[] },
  benchStarted: number,
): void {
  const { rows, raw, notes, settling } = results;
  const durationS = round((Date.now() - benchStarted) / 1000, 1);
  const machine = { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => round(l, 2)), node: process.version };
  const table = formatTable(rows);
  if (settling.length > 0) notes.push('between phases:', ...settling.map((line) => `  ${line}`));
  const serviceLog = serviceWarnings();
  if (serviceLog.length > 0) {
    notes.push(
      `the services logged ${serviceLog.reduce((n, l) => n + l.count, 0)} warnings/errors; most frequent:`,
      ...serviceLog.slice(0, 4).map((l) => `  ${l.count} x ${l.line}`),
    );
  }
  process.stdout.write(
    `\nticketing bench (${durationS} s; ${machine.cpus} cpus, load ${machine.loadavg.join(' ')})\n` +
      `${notes.map((n) => `  ${n}`).join('\n')}\n` +
      '  ratio = ours / baseline: above 1 means more throughput, or more latency, than the baseline\n\n' +
      `${table}\n`,
  );
  const file = path.join(__dirname, '..', 'results.json');
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), durationS, machine, notes, rows, raw, serviceLog }, null, 2)}\n`,
  );
  process.stdout.write(`\nwritten to ${path.relative(process.cwd(), file)}\n`);
}
