/** What every server starter of infra.ts shares: its options and small helpers. */
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTempDir, trackTempDir } from './infra-process';
import { type Log, type ToolName } from './infra-tool-names';

export const HOST = '127.0.0.1';

export interface CommonStartOptions {
  /** Where to report slow first-time installs; stderr by default. */
  log?: Log;
  /** How long the server may take to answer; 30 s by default. */
  readyTimeoutMs?: number;
}

export function readyOpts(opts: CommonStartOptions): { timeoutMs?: number } {
  return opts.readyTimeoutMs === undefined ? {} : { timeoutMs: opts.readyTimeoutMs };
}

export function requireBinary(binary: string | undefined, tool: ToolName): string {
  // ensureTool returns no path only for an external server, which the callers handled before.
  if (binary === undefined) throw new Error(`no binary for ${tool}`);
  return binary;
}

export function ensureDir(dir: string): string {
  const absolute = path.resolve(dir);
  mkdirSync(absolute, { recursive: true });
  return absolute;
}

/**
 * Runs `start` with the given data directory, or with a fresh temporary one that is deleted when the
 * server stops, when the start fails, or at the latest when this process exits.
 */
export async function withDataDir<T>(
  name: string,
  dataDir: string | undefined,
  start: (dir: string, release: () => void) => Promise<T>,
): Promise<T> {
  if (dataDir !== undefined) return start(ensureDir(dataDir), () => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), `ticketing-${name}-`));
  trackTempDir(dir);
  const release = (): void => removeTempDir(dir);
  try {
    return await start(dir, release);
  } catch (error) {
    release();
    throw error;
  }
}

export function portOf(url: string, fallback: number): number {
  try {
    const port = new URL(url).port;
    return port === '' ? fallback : Number(port);
  } catch {
    return fallback;
  }
}

/** Makes stop() idempotent: calling it twice (teardown after a failed test) waits for the first call. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
