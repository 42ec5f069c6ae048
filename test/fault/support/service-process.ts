import {
  buildStale,
  launchService,
  type ServiceName,
  describeExit,
  formatTail,
  type ExitInfo,
  type ManagedProcess,
} from '@ticketing/devinfra';

/**
 * One service run as production runs it (`node <svc>/dist/main.js`, through the dev stack's
 * launchService), with the handles the fault tests need: they kill, signal and restart these; the
 * bench starts a second orders instance with it. Builds go through the dev stack's buildStale (a lock
 * shared by every process of this checkout, so test files starting at once do not write the same
 * dist/ together).
 */

export interface ServiceProcess {
  readonly name: ServiceName;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Resolves once the process has exited; never rejects. */
  readonly exited: Promise<ExitInfo>;
  running(): boolean;
  /** The last few thousand characters it wrote (its logs), for failure messages. */
  output(): string;
  /** Sends a signal (SIGKILL to crash it, SIGTERM to ask it to stop). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface StartServiceOptions {
  /** A fixed port (a restarted service keeps its address); a free one when absent. */
  port?: number;
  readyTimeoutMs?: number;
}

/** Builds the services' dist/ (and common's) when missing or older than their sources. */
export async function ensureBuilt(services: readonly ServiceName[]): Promise<void> {
  await buildStale(services, (line) => process.stderr.write(`[build] ${line}\n`));
}

/**
 * Spawns `node <name>/dist/main.js` with `env` on top of this process's environment and resolves once
 * GET /readyz answers 200 (Mongo and the bus connected). Rejects with the service's output when it
 * exits or is not ready in time.
 */
export async function startServiceProcess(
  name: ServiceName,
  env: Record<string, string>,
  opts: StartServiceOptions = {},
): Promise<ServiceProcess> {
  const { proc, url, port } = await launchService(name, {
    env: (port) => ({ ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', ...env, PORT: String(port) }),
    ...(opts.port === undefined ? {} : { port: opts.port }),
    // Generous: a service replays the session revocations before it serves, on 2 busy cores.
    deadline: Date.now() + (opts.readyTimeoutMs ?? 60_000),
    intervalMs: 50,
  });
  return wrap(name, proc, url, port);
}

function wrap(name: ServiceName, proc: ManagedProcess, url: string, port: number): ServiceProcess {
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`${name} has no pid`);
  return {
    name,
    url,
    port,
    pid,
    exited: proc.exited,
    running: () => proc.running(),
    output: () => proc.output(),
    signal: (signal) => {
      if (proc.running()) process.kill(pid, signal);
    },
    stop: async (graceMs = 20_000) => {
      await proc.stop(graceMs);
      return proc.exited;
    },
  };
}

/** "tickets exited with code 1" plus its last lines: for assertion messages. */
export function describeService(service: ServiceProcess, info?: ExitInfo): string {
  const how = info === undefined ? (service.running() ? 'is running' : 'has exited') : describeExit(info);
  const tail = formatTail({
    name: service.name,
    pid: service.pid,
    output: service.output,
    running: service.running,
    exited: service.exited,
    stop: async () => {},
  });
  return `${service.name} (pid ${service.pid}) ${how}. Its output:\n${tail}`;
}
