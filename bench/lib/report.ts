import { round } from './stats';

/** One line of the results table: a figure of ours, its baseline, their ratio and the goal if any. */
export interface Row {
  figure: string;
  unit: string;
  ours: number | string;
  baseline?: number;
  /** ours / baseline. */
  ratio?: number;
  goal?: string;
  /** Whether the goal is met; undefined when there is no goal. */
  met?: boolean;
  note?: string;
}

function cell(value: number | string | undefined, digits = 1): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return 'n/a';
  return String(round(value, digits));
}

export function formatTable(rows: Row[]): string {
  const header = ['figure', 'ours', 'baseline', 'ratio', 'goal', ''];
  const lines = rows.map((r) => [
    r.figure,
    `${cell(r.ours)} ${r.unit}`.trim(),
    r.baseline === undefined ? '' : `${cell(r.baseline)} ${r.unit}`.trim(),
    r.ratio === undefined ? '' : `${cell(r.ratio, 2)}x`,
    r.goal ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'NOT MET',
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((line) => (line[i] ?? '').length)));
  const render = (line: string[]): string =>
    line
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const notes = rows.flatMap((r) => (r.note === undefined ? [] : [`  ${r.figure}: ${r.note}`]));
  return [render(header), rule, ...lines.map(render), ...(notes.length > 0 ? ['', 'notes:', ...notes] : [])].join('\n');
}
