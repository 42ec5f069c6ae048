import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Bench-only probes of the stack's service processes (own stack only), each preloaded with
 * `node --require` when asked for, off by default (the bench's CPU figures are taken without them):
 * - BENCH_COUNT_COMMANDS=1: count-commands.cjs counts each process's database commands, in a file
 *   named after its pid (read with readCommandCounts).
 * - BENCH_CPU_PROFILE=1: cpu-profile.cjs profiles a process between two SIGUSR2 (see profileRound);
 *   the profiles are left in BENCH_CPU_PROFILE_DIR (default: a new folder under the system's tmp).
 */

export const COUNT_COMMANDS = process.env['BENCH_COUNT_COMMANDS'] === '1';
export const CPU_PROFILE = process.env['BENCH_CPU_PROFILE'] === '1';

let dir: string | undefined;
let profileDir: string | undefined;

/** The environment that preloads the probes asked for into the stack's services ({} when none). */
export function probesEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const preloads: string[] = [];
  if (COUNT_COMMANDS) {
    dir ??= mkdtempSync(path.join(os.tmpdir(), 'bench-commands-'));
    env['BENCH_COMMANDS_DIR'] = dir;
    preloads.push(path.join(__dirname, 'count-commands.cjs'));
  }
  if (CPU_PROFILE) {
    profileDir ??= process.env['BENCH_CPU_PROFILE_DIR'] ?? mkdtempSync(path.join(os.tmpdir(), 'bench-profile-'));
    mkdirSync(profileDir, { recursive: true });
    env['BENCH_CPU_PROFILE_DIR'] = profileDir;
    preloads.push(path.join(__dirname, 'cpu-profile.cjs'));
  }
  if (preloads.length === 0) return env;
  const inherited = process.env['NODE_OPTIONS'] ?? '';
  env['NODE_OPTIONS'] = [inherited, ...preloads.map((file) => `--require ${file}`)].join(' ').trim();
  return env;
}

/** With BENCH_CPU_PROFILE=1, profiles the processes while `run` runs; else just runs it. */
export async function profileRound<T>(pids: Record<string, number>, run: () => Promise<T>): Promise<T> {
  if (!CPU_PROFILE) return run();
  const signal = (): void => Object.values(pids).forEach((pid) => process.kill(pid, 'SIGUSR2'));
  signal();
  try {
    return await run();
  } finally {
    signal();
  }
}

/** Where the profiles are (undefined without BENCH_CPU_PROFILE=1). */
export function profileFolder(): string | undefined {
  return profileDir;
}

/** Commands (and statements in them) sent so far, by command name, by process. */
export type CommandCounts = Record<string, { commands: Record<string, number>; statements: Record<string, number> }>;

export function readCommandCounts(pids: Record<string, number>): CommandCounts {
  const counts: CommandCounts = {};
  if (dir === undefined) return counts;
  for (const [name, pid] of Object.entries(pids)) {
    const file = path.join(dir, `${pid}.json`);
    if (existsSync(file)) counts[name] = JSON.parse(readFileSync(file, 'utf8')) as CommandCounts[string];
  }
  return counts;
}

/** Per order, by process: `commands (statements)` by command name between two readings. */
export function commandsPerRequest(before: CommandCounts, after: CommandCounts, requests: number): string[] {
  const lines: string[] = [];
  for (const [name, end] of Object.entries(after)) {
    const start = before[name] ?? { commands: {}, statements: {} };
    const parts: string[] = [];
    let total = 0;
    for (const [command, n] of Object.entries(end.commands)) {
      const commands = (n - (start.commands[command] ?? 0)) / requests;
      const statements = ((end.statements[command] ?? 0) - (start.statements[command] ?? 0)) / requests;
      if (commands < 0.005) continue;
      total += commands;
      parts.push(`${command} ${commands.toFixed(2)} (${statements.toFixed(2)} statements)`);
    }
    lines.push(`${name}: ${total.toFixed(2)} commands per order: ${parts.join(', ')}`);
  }
  return lines;
}
