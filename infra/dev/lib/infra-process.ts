import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Child-process plumbing shared by the server starters in infra.ts: spawning with an output tail
 * for error messages, polling readiness against a deadline, stopping with SIGTERM then SIGKILL, and
 * making sure no server outlives the process that started it.
 */

const OUTPUT_TAIL_CHARS = 4000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  error?: Error;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** The last few thousand characters the child wrote to stdout and stderr. */
  output(): string;
  running(): boolean;
  /** Resolves once the child has exited (or failed to spawn); never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHooksInstalled = false;

/**
 * Whatever ends this process (normal exit, process.exit, an uncaught error, Ctrl-C), its servers must
 * not linger: they would hold ports and, worse, be picked up by the next run's port probe.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Someone else (a service's graceful shutdown, jest) handles this signal and will stop the
      // servers or exit, which runs the 'exit' hook. Only when we are alone do we restore the default
      // behaviour (die by the signal), because a listener of ours alone would swallow it.
      if (process.listenerCount(signal) > 1) return;
      killEverythingNow();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function killEverythingNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) removeDir(dir);
  tempDirs.clear();
}

/** Registers a temporary directory to delete when the process exits (if nobody deleted it before). */
export function trackTempDir(dir: string): void {
  installExitHooks();
  tempDirs.add(dir);
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  removeDir(dir);
}

function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Best effort: a leftover temp directory is not worth failing a run for.
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Give the child a stdin pipe that stays open for our lifetime (see ferretdb -exit-on-stdin-eof). */
  stdinPipe?: boolean;
  /** Called with each line the child writes to stdout or stderr, as it arrives (the dev stack's log files). */
  onLine?: (line: string) => void;
}

export function spawnManaged(name: string, command: string, args: string[], opts: SpawnOptions = {}): ManagedProcess {
  installExitHooks();
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };

  const [file, argv] = dieWithParent(command, args);
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdinPipe === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const onLine = opts.onLine;
  if (onLine !== undefined) {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    }
  }

  let isRunning = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      // 'error' without a pid means spawn failed; 'exit' will not follow.
      if (child.pid === undefined) {
        isRunning = false;
        liveChildren.delete(child);
        resolve({ code: null, signal: null, error });
      }
    });
    child.once('exit', (code, signal) => {
      isRunning = false;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });

  return {
    name,
    pid: child.pid,
    output: () => tail,
    running: () => isRunning,
    exited,
    async stop(graceMs = 5000): Promise<void> {
      if (!isRunning) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Our exit hooks cannot run when this process is killed with SIGKILL (an OOM kill, a runner's hard
 * timeout). On Linux, util-linux's setpriv asks the kernel to send the child SIGTERM when its parent
 * dies, then execs the server in place (same pid), which covers that case too.
 */
function dieWithParent(command: string, args: string[]): [string, string[]] {
  setprivPath ??= process.platform === 'linux' ? (findOnPath('setpriv') ?? '') : '';
  if (setprivPath === '') return [command, args];
  return [setprivPath, ['--pdeathsig', 'SIGTERM', '--', command, ...args]];
}

let setprivPath: string | undefined;

export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, binary);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export function describeExit(info: ExitInfo): string {
  if (info.error !== undefined) return `could not be started (${info.error.message})`;
  if (info.signal !== null) return `was killed by ${info.signal}`;
  return `exited with code ${String(info.code)}`;
}

/** Formats the child's output for an error message, indented so it reads as a quoted block. */
export function formatTail(proc: ManagedProcess): string {
  const out = proc.output().trim();
  if (out === '') return '  (no output)';
  return out
    .split('\n')
    .slice(-30)
    .map((line) => `  | ${line}`)
    .join('\n');
}

/** Asks the OS for a port that is free right now (listen on 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port the OS assigned'));
      });
    });
  });
}

export class StartError extends Error {
  constructor(
    message: string,
    /** True when the child failed because its port was taken (worth retrying on another port). */
    readonly portInUse: boolean,
  ) {
    super(message);
    this.name = 'StartError';
  }
}

export interface ReadyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it resolves, the child exits (fail at once, with its output), or the deadline
 * passes (kill the child, fail with its output and the last probe error).
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  what: string,
  probe: () => Promise<void>,
  opts: ReadyOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  const exitedEarly = async (): Promise<never> => {
    const info = await proc.exited;
    const out = proc.output();
    throw new StartError(
      `${proc.name} ${describeExit(info)} before ${what} was ready. Its output:\n${formatTail(proc)}`,
      /address already in use/i.test(out),
    );
  };

  for (;;) {
    if (!proc.running()) return exitedEarly();
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    // Wake up early if the child dies meanwhile, so a crash is reported at once.
    const exitedMeanwhile = await Promise.race([
      proc.exited.then(() => true),
      delay(Math.min(intervalMs, Math.max(0, deadline - Date.now()))).then(() => false),
    ]);
    if (exitedMeanwhile) return exitedEarly();
  }

  await proc.stop(1000);
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new StartError(
    `${proc.name} did not make ${what} ready within ${timeoutMs} ms (last check: ${reason}). ` +
      `It was killed. Its output:\n${formatTail(proc)}`,
    false,
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

/**
 * Starts a server on a free port. Between freePort() closing its probe socket and the child binding,
 * another process can grab the port; the child then dies with "address already in use", and we try
 * again with a new port. A port the caller chose is never silently replaced.
 */
export async function startOnFreePort<T>(
  fixedPort: number | undefined,
  start: (port: number) => Promise<T>,
  attempts = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      return await start(port);
    } catch (error) {
      const retry = fixedPort === undefined && attempt < attempts && error instanceof StartError && error.portInUse;
      if (!retry) throw error;
    }
  }
}
