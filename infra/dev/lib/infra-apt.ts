import { findOnPath, formatTail, spawnManaged } from './infra-process';

/**
 * The one way the project installs a Debian package it needs (redis-server, chromium, podman, ...):
 * only as root (CI, containers), where it cannot ask for a password, and only when `apt-get` exists.
 * apt takes a lock on its lists and on dpkg; when another apt-get holds it (an unattended upgrade, a
 * second installer of this project starting at the same moment), this waits for it, up to a deadline,
 * instead of failing the run.
 */

export interface AptInstallOptions {
  /** How long to wait, in all, for another apt-get to release its locks; 10 minutes by default. */
  lockTimeoutMs?: number;
  log?: (line: string) => void;
}

export type AptResult = { ok: true } | { ok: false; reason: string };

const LOCK_HELD = /Could not get lock|Unable to lock|is another process using it/i;
const POLL_MS = 2000;

export function canAptInstall(): boolean {
  return findOnPath('apt-get') !== undefined && process.getuid?.() === 0;
}

/** `apt-get update` then `apt-get install -y --no-install-recommends PACKAGES`, waiting out locks. */
export async function aptInstall(packages: readonly string[], opts: AptInstallOptions = {}): Promise<AptResult> {
  const aptGet = findOnPath('apt-get');
  if (aptGet === undefined) return { ok: false, reason: 'apt-get is not on PATH' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'installing system packages needs root' };
  const deadline = Date.now() + (opts.lockTimeoutMs ?? 600_000);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps = [['update'], ['install', '-y', '--no-install-recommends', ...packages]];
  for (const args of steps) {
    for (;;) {
      // dpkg's own lock wait covers the install step; the retry below also covers the lists lock.
      const proc = spawnManaged(`apt-get ${args[0] ?? ''}`, aptGet, ['-o', 'DPkg::Lock::Timeout=60', ...args], {
        env,
      });
      const info = await proc.exited;
      if (info.code === 0) break;
      const output = formatTail(proc);
      if (LOCK_HELD.test(output) && Date.now() < deadline) {
        opts.log?.(`apt-get ${args[0] ?? ''}: another apt-get holds the lock; waiting`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      return { ok: false, reason: `apt-get ${args.join(' ')} exited with code ${String(info.code)}:\n${output}` };
    }
  }
  return { ok: true };
}
