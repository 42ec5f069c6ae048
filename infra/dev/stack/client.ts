import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lib/infra';
import { expectHttp200 } from '../lib/infra-probes';
import { describeExit, spawnManaged, startOnFreePort, waitUntilReady, type ManagedProcess } from '../lib/infra-process';
import { acquireBuildLock } from './build';
import { indent, lastLines } from './text';
import type { Log } from './types';

/**
 * The web client in the dev stack: `next build` when its output (client/.next) is missing or older
 * than its sources, under the same lock as the services' builds (so that two test files starting
 * together build it once), then `next start` as one more managed process behind the gateway's
 * catch-all route. Server-side rendering reaches the API through the gateway (API_URL), as the
 * browser does.
 */

const CLIENT_DIR = 'client';
// What `next build` reads; its own outputs (.next, next-env.d.ts, tsconfig.tsbuildinfo) are not inputs.
const SOURCE_DIRS = ['src', 'public'];
const SOURCE_FILES = ['next.config.mjs', 'package.json', 'tsconfig.json'];

export function clientPresent(): boolean {
  return existsSync(path.join(repoRoot(), CLIENT_DIR, 'package.json'));
}

function nextBin(root: string): string {
  return path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next');
}

/** Environment of `next build` and `next start`: no telemetry (these machines are offline). */
function nextEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...extra };
}

function isStale(root: string): boolean {
  const dir = path.join(root, CLIENT_DIR);
  let built: number;
  try {
    built = statSync(path.join(dir, '.next', 'BUILD_ID')).mtimeMs;
  } catch {
    return true;
  }
  let newest = 0;
  const visit = (file: string): void => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs);
    } catch {
      // An optional file that does not exist.
    }
  };
  const walk = (sub: string): void => {
    if (!existsSync(sub)) return;
    for (const entry of readdirSync(sub, { withFileTypes: true })) {
      const full = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(full);
      else visit(full);
    }
  };
  SOURCE_FILES.forEach((file) => visit(path.join(dir, file)));
  SOURCE_DIRS.forEach((sub) => walk(path.join(dir, sub)));
  return newest > built;
}

/** Milliseconds `next build` took, 0 when the build was up to date. */
export async function buildClientIfStale(log: Log): Promise<number> {
  const root = repoRoot();
  const release = await acquireBuildLock(root, log);
  try {
    if (!isStale(root)) return 0;
    log('building the web client (next build; about 30 s on 2 cores, once)...');
    const started = Date.now();
    const build = spawnManaged('next build', process.execPath, [nextBin(root), 'build'], {
      cwd: path.join(root, CLIENT_DIR),
      env: nextEnv({ NODE_ENV: 'production' }),
    });
    const info = await build.exited;
    if (info.code !== 0) throw new Error(`next build (client/) ${describeExit(info)}:\n${indent(build.output())}`);
    return Date.now() - started;
  } finally {
    release();
  }
}

export interface ClientHandle {
  url: string;
  port: number;
  pid: number | undefined;
  state: 'starting' | 'ready' | 'exited' | 'stopped';
  logFile: string;
  readyInMs: number | undefined;
}

export interface RunningClient {
  handle: ClientHandle;
  stop(): Promise<void>;
}

export interface StartClientArgs {
  /** Where server-side rendering sends API calls: the gateway. */
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  deadline: number;
  log: Log;
  /** Called with the handle as soon as it exists (the gateway routes to it once ready). */
  register: (handle: ClientHandle) => void;
}

export async function startClient(args: StartClientArgs): Promise<RunningClient> {
  const root = repoRoot();
  const logFile = path.join(args.logDir, 'client.log');
  const file = createWriteStream(logFile, { flags: 'a' });
  const handle: ClientHandle = { url: '', port: 0, pid: undefined, state: 'starting', logFile, readyInMs: undefined };
  args.register(handle);
  let current: ManagedProcess | undefined;
  let stopping = false;
  try {
    await startOnFreePort(undefined, async (port) => {
      const spawnedAt = Date.now();
      const proc = spawnManaged(
        'client',
        process.execPath,
        [nextBin(root), 'start', '-p', String(port), '-H', '127.0.0.1'],
        {
          cwd: path.join(root, CLIENT_DIR),
          env: nextEnv({
            ...args.env,
            NODE_ENV: 'production',
            PORT: String(port),
            API_URL: args.apiUrl,
          }),
          onLine: (line) => file.write(`${line}\n`),
        },
      );
      current = proc;
      Object.assign(handle, { port, pid: proc.pid, url: `http://127.0.0.1:${port}` });
      void proc.exited.then((info) => {
        if (current !== proc) return;
        if (!stopping && handle.state === 'ready') {
          args.log(
            `[client] ${describeExit(info)} unexpectedly; its log: ${logFile}\n${indent(lastLines(proc.output(), 40))}`,
          );
        }
        handle.state = stopping ? 'stopped' : 'exited';
      });
      await waitUntilReady(proc, `the web client on port ${port}`, () => expectHttp200(`${handle.url}/healthz`), {
        timeoutMs: Math.max(0, args.deadline - Date.now()),
        intervalMs: 100,
      });
      handle.readyInMs = Date.now() - spawnedAt;
    });
    handle.state = 'ready';
  } catch (error) {
    file.end();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n  (its log: ${logFile})`);
  }
  return {
    handle,
    stop: async () => {
      stopping = true;
      await current?.stop(10_000);
      handle.state = 'stopped';
      await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}
