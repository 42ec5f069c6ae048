import type { EchoLevel } from './types';

/** How the stack words what it shows: service log lines on the console, quoted output in errors. */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One service log line for the console, or undefined when it is below the echo level. */
export function formatServiceLine(name: string, line: string, echo: EchoLevel): string | undefined {
  if (echo === 'none' || line.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // Not pino: a crash before the logger existed, or a Node warning. Always worth showing.
    return `[${name}] ${line}`;
  }
  if (typeof parsed !== 'object' || parsed === null) return `[${name}] ${line}`;
  const record = parsed as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
  const level = typeof record.level === 'number' ? record.level : 30;
  if (echo === 'warn' && level < 40) return undefined;
  const label = LEVELS[level] ?? String(level);
  const message = typeof record.msg === 'string' ? record.msg : '';
  const err = typeof record.err?.message === 'string' ? `: ${record.err.message}` : '';
  return `[${name}] ${label} ${message}${err}`;
}

/** Output quoted in an error message, each line prefixed with "  | ". */
export function indent(text: string): string {
  const trimmed = text.trim();
  return trimmed === ''
    ? '  (no output)'
    : trimmed
        .split('\n')
        .map((line) => `  | ${line}`)
        .join('\n');
}

/** The last `count` lines of `text`. */
export function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-count).join('\n');
}

export function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
