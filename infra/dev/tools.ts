/**
 * `npm run tools` (and the first step of `npm test`): installs whatever test/dev servers are missing
 * into .tools/bin and prints where each one is. Exits 1 with one message saying what is missing and
 * how to provide it.
 */
import { ALL_TOOLS, ensureTools, type ToolStatus } from './lib/infra';

function table(statuses: ToolStatus[]): string {
  const rows = [
    ['tool', 'server', 'path', 'note'],
    ...statuses.map((s) => [s.tool, s.provider, s.path ?? '-', s.note]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  // Only progress lines while installing: the table below says where everything is.
  const statuses = await ensureTools(ALL_TOOLS, (line) => process.stderr.write(`${line}\n`), { reportStatus: false });
  process.stdout.write(`${table(statuses)}\n(${Date.now() - started} ms)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
