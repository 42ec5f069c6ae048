import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { describeExit, StartError, type ManagedProcess } from '../lib/infra-process';
import { withDatabase } from '../../../common/src/testing/test-env';
import type { StartedInfra } from './infrastructure';
import { launchService } from './service-process';
import { errorMessage, formatServiceLine, indent, lastLines } from './text';
import { NEEDS, SERVICE_NAMES, type EchoLevel, type Log, type ServiceHandle, type ServiceName } from './types';

/**
 * The stack's services: each launched through launchService, its output appended to <logDir>/<name>.log
 * and echoed to the console at the chosen level, its state kept on a handle the gateway and `npm start`
 * read. A service that dies after it was ready is reported with its last lines.
 */

const TAIL_LINES = 40;

export interface RunningServices {
  /** Every wanted service in SERVICE_NAMES order, the skipped ones included. */
  handles: ServiceHandle[];
  /** Stops them together: each drains on its own, and none depends on another being up. */
  stop(): Promise<void>;
}

export interface ServicesArgs {
  present: readonly ServiceName[];
  /** Wanted but not written yet: listed as skipped. */
  absent: readonly ServiceName[];
  logDir: string;
  env: (name: ServiceName, port: number) => NodeJS.ProcessEnv;
  /** Every service must be ready by then (Date.now() time). */
  deadline: number;
  /** Read for each line, so it can change while the stack stops. */
  echo: () => EchoLevel;
  log: Log;
  /** Called with each handle as soon as it exists (the gateway routes to it once it is ready). */
  register: (handle: ServiceHandle) => void;
}

/** Starts all at once (each waits for its own connections); if one fails, stops the others and throws. */
export async function startServices(args: ServicesArgs): Promise<RunningServices> {
  const skipped: ServiceHandle[] = args.absent.map((name) => ({
    ...newHandle(name, ''),
    state: 'skipped',
    note: `no ${name}/src/main.ts`,
  }));
  const running = await Promise.allSettled(args.present.map((name) => startService(name, args)));
  const services = running.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(services.map((service) => service.stop()));
  };
  const failures = running.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
  if (failures.length > 0) {
    await stop();
    throw new Error(failures.join('\n\n'));
  }
  const handles = [...skipped, ...services.map((service) => service.handle)];
  handles.sort((a, b) => SERVICE_NAMES.indexOf(a.name) - SERVICE_NAMES.indexOf(b.name));
  return { handles, stop };
}

/** The environment a service gets: the stack's servers and key on top of the caller's environment. */
export function serviceEnv(args: {
  name: ServiceName;
  port: number;
  env: NodeJS.ProcessEnv;
  infra: StartedInfra;
  jwtKey: string;
  databasePrefix: string;
}): NodeJS.ProcessEnv {
  const { env, infra } = args;
  const own: Record<string, string> = {
    PORT: String(args.port),
    // A jest worker's NODE_ENV=test would silence the services' logs, which are the stack's record.
    NODE_ENV: env['NODE_ENV'] === undefined || env['NODE_ENV'] === 'test' ? 'development' : env['NODE_ENV'],
    JWT_KEY: args.jwtKey,
    NATS_URL: infra.natsUrl,
    NATS_CLUSTER_ID: infra.natsClusterId,
    EVENT_BUS: infra.bus,
    STRIPE_KEY: env['STRIPE_KEY'] ?? 'sk_test_123',
  };
  if (NEEDS[args.name].mongo && infra.mongoUri !== undefined) {
    own['MONGO_URI'] = withDatabase(infra.mongoUri, `${args.databasePrefix}${args.name}`);
  }
  if (infra.redisUrl !== undefined) own['REDIS_URL'] = infra.redisUrl;
  if (infra.stripeUrl !== undefined) own['STRIPE_API_BASE'] = infra.stripeUrl;
  return { ...env, ...own };
}

function newHandle(name: ServiceName, logFile: string, tail: () => string = () => ''): ServiceHandle {
  return {
    name,
    url: '',
    port: 0,
    metricsUrl: '',
    pid: undefined,
    state: 'starting',
    readyInMs: undefined,
    logFile,
    note: '',
    tail,
  };
}

interface RunningService {
  handle: ServiceHandle;
  stop(): Promise<void>;
}

async function startService(name: ServiceName, args: ServicesArgs): Promise<RunningService> {
  const { log } = args;
  const logFile = path.join(args.logDir, `${name}.log`);
  const file = createWriteStream(logFile, { flags: 'a' });
  let current: ManagedProcess | undefined;
  let stopping = false;
  let spawnedAt = 0;
  const handle = newHandle(name, logFile, () => lastLines(current?.output() ?? '', TAIL_LINES));
  args.register(handle);

  const onSpawn = (proc: ManagedProcess, port: number, metricsPort: number): void => {
    current = proc;
    spawnedAt = Date.now();
    const url = `http://127.0.0.1:${port}`;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    Object.assign(handle, { pid: proc.pid, port, url, metricsUrl, state: 'starting' });
    const msg = `--- started by the dev stack on port ${port} (pid ${proc.pid ?? '?'})`;
    file.write(`${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`);
    void proc.exited.then((info) => {
      if (current !== proc) return;
      handle.note = describeExit(info);
      if (stopping) {
        handle.state = 'stopped';
        return;
      }
      if (handle.state === 'ready') {
        log(`[${name}] ${describeExit(info)} unexpectedly; its log: ${logFile}\n${indent(handle.tail())}`);
      }
      handle.state = 'exited';
    });
  };
  const onLine = (line: string): void => {
    file.write(`${line}\n`);
    const shown = formatServiceLine(name, line, args.echo());
    if (shown !== undefined) log(shown);
  };

  try {
    await launchService(name, { env: (port) => args.env(name, port), deadline: args.deadline, onLine, onSpawn });
    handle.state = 'ready';
    handle.readyInMs = Date.now() - spawnedAt;
  } catch (error) {
    file.end();
    if (error instanceof StartError) throw new Error(`${error.message}\n  (its log: ${logFile})`);
    throw error;
  }
  return {
    handle,
    stop: async () => {
      stopping = true;
      // The services' own shutdown (handleShutdown) drains HTTP, closes the bus and Mongo in up to
      // 15 s; past that they are killed.
      await current?.stop(20_000);
      if (handle.state !== 'exited') handle.state = 'stopped';
      await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}
