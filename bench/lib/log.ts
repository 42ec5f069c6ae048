/**
 * The bench's console: progress on stderr (stdout carries only the table), and the services'
 * warnings and errors, which the stack echoes, counted by message to be summarised at the end.
 */

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export const step = (line: string): void => log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

const serviceLines = new Map<string, number>();
const SERVICE_LINE = /^\[(auth|tickets|orders|expiration|payments)\] (WARN|ERROR|FATAL) (.*)$/;

/** The stack's log: service warnings are counted, anything else is shown. */
export const stackLog = (line: string): void => {
  const match = SERVICE_LINE.exec(line);
  if (match === null) {
    log(line);
    return;
  }
  const key = `${match[1] ?? ''} ${match[2] ?? ''} ${(match[3] ?? '').replace(/\[[^\]]*\] /g, '').slice(0, 110)}`;
  serviceLines.set(key, (serviceLines.get(key) ?? 0) + 1);
};

/** The services' warnings and errors so far, the most frequent first. */
export function serviceWarnings(): Array<{ line: string; count: number }> {
  return [...serviceLines.entries()].sort((a, b) => b[1] - a[1]).map(([line, count]) => ({ line, count }));
}
