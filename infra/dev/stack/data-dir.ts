import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTempDir, trackTempDir } from '../lib/infra-process';

/**
 * Where a stack keeps its data: .data/ (persistent, one stack at a time, held by a pid file) or a
 * temporary directory; its log directory; and the JWT key the services share.
 */

export interface StackData {
  dataDir: string;
  logDir: string;
  jwtKey: string;
  /** Releases the lock or deletes the temporary directory. */
  release(): void;
}

export function prepareData(args: {
  root: string;
  ephemeral: boolean;
  dataDir: string | undefined;
  logDir: string | undefined;
  env: NodeJS.ProcessEnv;
}): StackData {
  let dataDir: string;
  let release: () => void;
  if (args.ephemeral) {
    const tempDir = mkdtempSync(path.join(os.tmpdir(), 'ticketing-stack-'));
    // Deleted on stop, or by the harness's exit hook if this process ends without stopping.
    trackTempDir(tempDir);
    release = () => removeTempDir(tempDir);
    dataDir = tempDir;
  } else {
    dataDir = path.resolve(args.dataDir ?? path.join(args.root, '.data'));
    mkdirSync(dataDir, { recursive: true });
    release = lockDataDir(dataDir);
  }
  try {
    const logDir = path.resolve(args.logDir ?? path.join(dataDir, 'logs'));
    mkdirSync(logDir, { recursive: true });
    const givenKey = args.env['JWT_KEY'] === '' ? undefined : args.env['JWT_KEY'];
    const jwtKey = givenKey ?? (args.ephemeral ? randomBytes(32).toString('hex') : persistentJwtKey(dataDir));
    return { dataDir, logDir, jwtKey, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Two stacks on one data directory would corrupt each other's stores (and fight over NATS durable
 * subscriptions), so the directory is held by a pid file while a stack runs.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'stack.pid');
  const holder = readPid(lockFile);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new Error(
      `Another stack (pid ${holder}) is using ${dataDir}: stop it first, or start this one with --ephemeral`,
    );
  }
  writeFileSync(lockFile, `${process.pid}\n`);
  return () => {
    if (readPid(lockFile) === process.pid) rmSync(lockFile, { force: true });
  };
}

/** The dev stack's JWT key: generated once and kept, so sessions survive a restart. */
function persistentJwtKey(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-key');
  try {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 32) return key;
  } catch {
    // First start: generate below.
  }
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
