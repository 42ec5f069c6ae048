import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  ensureTools,
  repoRoot,
  startMongo,
  startNatsStreaming,
  startRedis,
  startStripeMock,
  type ToolName,
} from '../../common/src/testing/infra';
import { httpStatus } from '../../common/src/testing/infra-probes';
import {
  delay,
  describeExit,
  findOnPath,
  removeTempDir,
  startOnFreePort,
  StartError,
  trackTempDir,
  type ExitInfo,
} from '../../common/src/testing/infra-process';
import { EXTERNAL_SERVER_ENV, externalServer } from '../../common/src/testing/infra-tools';
import { withDatabase } from '../../common/src/testing/test-env';
import { ingressRoutes, startGateway, type Gateway } from './gateway';

/**
 * The local stack without a cluster: the infrastructure (through the test harness in
 * common/src/testing/infra.ts, or servers named in the environment), the five services run from their
 * built JavaScript as separate processes, and a gateway that routes like the Ingress. Used by
 * `npm start` (infra/dev/start.ts) and the end-to-end tests (test/e2e).
 */

export const SERVICE_NAMES = ['auth', 'tickets', 'orders', 'expiration', 'payments'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

interface ServiceNeeds {
  mongo: boolean;
  redis: boolean;
  stripe: boolean;
}

// What each service is given; everything else in the environment passes through unchanged.
const NEEDS: Record<ServiceName, ServiceNeeds> = {
  auth: { mongo: true, redis: false, stripe: false },
  tickets: { mongo: true, redis: false, stripe: false },
  orders: { mongo: true, redis: false, stripe: false },
  expiration: { mongo: false, redis: true, stripe: false },
  payments: { mongo: true, redis: false, stripe: true },
};

export interface InfraUrls {
  /** Base Mongo URI; each service gets its own database on it. */
  mongoUri?: string;
  natsUrl?: string;
  natsClusterId?: string;
  redisUrl?: string;
  stripeUrl?: string;
}

export interface StackOptions {
  /** Gateway port; 3000 by default, 0 for a free one. */
  port?: number;
  /** Gateway bind address; 127.0.0.1 by default. */
  host?: string;
  /** Keep nothing: temporary data directories, a random JWT key, logs deleted on stop. */
  ephemeral?: boolean;
  /** Extra environment for the services (on top of this process's environment). */
  env?: Record<string, string | undefined>;
  /** Progress lines and the services' warnings; silent when absent. */
  log?: (line: string) => void;
  /** Service log lines echoed to `log`: 'warn' (warnings and errors, the default), 'all' or 'none'. */
  echo?: 'warn' | 'all' | 'none';
  /** Build stale or missing dist/ folders first (true by default). */
  build?: boolean;
  /** Which services to run; all five by default. */
  services?: readonly ServiceName[];
  /** Leave out, with a warning, services that have no src/main.ts yet instead of failing. */
  skipMissing?: boolean;
  /** Use these servers instead of starting them (the environment's MONGO_URI etc. are honoured too). */
  infra?: InfraUrls;
  /** Prepended to each service's database name ("t_abc_" → t_abc_auth). */
  databasePrefix?: string;
  /** Where persistent data lives; <repo>/.data by default. Ignored when ephemeral. */
  dataDir?: string;
  /** Where the services' logs go (<name>.log, appended); <dataDir>/logs by default. */
  logDir?: string;
  /** How long the services may take to become ready once spawned; 60 s by default. */
  readyTimeoutMs?: number;
}

export type ServiceState = 'starting' | 'ready' | 'exited' | 'stopped' | 'skipped';

export interface ServiceHandle {
  name: ServiceName;
  /** http://127.0.0.1:PORT ('' when skipped). */
  url: string;
  port: number;
  pid: number | undefined;
  state: ServiceState;
  /** Milliseconds from spawn to a 200 on /readyz. */
  readyInMs: number | undefined;
  logFile: string;
  /** Why it was skipped, or how it exited. */
  note: string;
  /** The last lines the service wrote. */
  tail(): string;
}

export interface InfraHandle {
  name: 'mongo' | 'nats' | 'redis' | 'stripe';
  url: string;
  /** Where its data lives, "external", or "temporary". */
  note: string;
}

export interface Stack {
  /** The gateway: http://127.0.0.1:PORT. */
  baseUrl: string;
  services: ServiceHandle[];
  infra: InfraHandle[];
  /** The JWT key the services share (to mint session cookies in tests). */
  jwtKey: string;
  logDir: string;
  /** From startStack() being called to everything answering. */
  startupMs: number;
  /** How long the build step took (0 when nothing was stale). */
  buildMs: number;
  /** Tools check and infrastructure start. */
  infraMs: number;
  /** From spawning the services to the last /readyz answering 200. */
  servicesMs: number;
  /** Stops the gateway, then the services, then the infrastructure. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const started = Date.now();
  const root = repoRoot();
  const log = opts.log ?? ((): void => {});
  const ephemeral = opts.ephemeral === true;
  const env = { ...process.env, ...opts.env };

  const wanted = opts.services ?? SERVICE_NAMES;
  const present = wanted.filter((name) => existsSync(path.join(root, name, 'src', 'main.ts')));
  const absent = wanted.filter((name) => !present.includes(name));
  if (absent.length > 0 && opts.skipMissing !== true) {
    throw new Error(`No ${absent.map((name) => `${name}/src/main.ts`).join(', ')}: these services are not written yet`);
  }
  for (const name of absent) log(`skipping ${name}: there is no ${name}/src/main.ts yet`);

  let stopRequested = false;
  const live = new Map<ServiceName, ServiceHandle>();
  let gateway: Gateway | undefined;
  // Cleanup actions in the order they must run on stop (or on a failed start).
  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async (): Promise<void> => {
    // The gateway first, so no request reaches a service that is shutting down.
    await gateway?.close();
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`stop: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  try {
    // Data: .data/ (persistent, one stack at a time) or a temporary directory.
    let dataDir: string;
    if (ephemeral) {
      const tempDir = mkdtempSync(path.join(os.tmpdir(), 'ticketing-stack-'));
      // Deleted on stop, or by the harness's exit hook if this process ends without stopping.
      trackTempDir(tempDir);
      cleanups.push(async () => removeTempDir(tempDir));
      dataDir = tempDir;
    } else {
      dataDir = path.resolve(opts.dataDir ?? path.join(root, '.data'));
      mkdirSync(dataDir, { recursive: true });
      const release = lockDataDir(dataDir);
      cleanups.push(async () => release());
    }
    const logDir = path.resolve(opts.logDir ?? path.join(dataDir, 'logs'));
    mkdirSync(logDir, { recursive: true });
    const givenKey = env['JWT_KEY'] === '' ? undefined : env['JWT_KEY'];
    const jwtKey = givenKey ?? (ephemeral ? randomBytes(32).toString('hex') : persistentJwtKey(dataDir));

    // The gateway first: a port in use fails at once, not after a build, and until a service is
    // ready its routes answer 502 (as the Ingress does while a Deployment has no ready pod).
    const port = opts.port ?? 3000;
    const routes = ingressRoutes(
      Object.fromEntries(
        SERVICE_NAMES.map((name) => [
          name,
          (): string | undefined => {
            const handle = live.get(name);
            return handle?.state === 'ready' ? handle.url : undefined;
          },
        ]),
      ),
    );
    gateway = await startGateway({ routes, port, ...(opts.host === undefined ? {} : { host: opts.host }), log }).catch(
      (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        throw new Error(
          `Port ${port} is in use: stop whatever listens there, or choose another port (PORT=3001 npm start)`,
        );
      },
    );

    let buildMs = 0;
    if (opts.build !== false) {
      const buildStarted = Date.now();
      const built = await buildStale(present, log);
      if (built) buildMs = Date.now() - buildStarted;
    }
    for (const name of present) {
      if (!existsSync(path.join(root, name, 'dist', 'main.js'))) {
        throw new Error(`${name}/dist/main.js is missing: run npm run build (or start with build enabled)`);
      }
    }

    // Infrastructure: only what the chosen services need.
    const needs = present.map((name) => NEEDS[name]);
    const needMongo = needs.some((n) => n.mongo);
    const needRedis = needs.some((n) => n.redis);
    const needStripe = needs.some((n) => n.stripe);
    const given = opts.infra ?? {};
    const tools: ToolName[] = [
      ...(needMongo && given.mongoUri === undefined ? (['mongo'] as const) : []),
      ...(given.natsUrl === undefined ? (['nats'] as const) : []),
      ...(needRedis && given.redisUrl === undefined ? (['redis'] as const) : []),
      ...(needStripe && given.stripeUrl === undefined ? (['stripe'] as const) : []),
    ];
    const infraStarted = Date.now();
    await ensureTools(tools, log, { reportStatus: false });
    const infra = await startInfra({
      ephemeral,
      dataDir,
      given,
      needMongo,
      needRedis,
      needStripe,
      log,
      push: (cleanup) => cleanups.push(cleanup),
    });

    // Services: all at once (each waits for its own connections), then wait for every /readyz.
    // Counted from here: a first build or a first tool install may take minutes before this point.
    const servicesStarted = Date.now();
    const infraMs = servicesStarted - infraStarted;
    const deadline = servicesStarted + (opts.readyTimeoutMs ?? 60_000);
    const serviceEnv = (name: ServiceName, port: number): NodeJS.ProcessEnv => {
      const own: Record<string, string> = {
        PORT: String(port),
        // A jest worker's NODE_ENV=test would silence the services' logs, which are the stack's record.
        NODE_ENV: env['NODE_ENV'] === undefined || env['NODE_ENV'] === 'test' ? 'development' : env['NODE_ENV'],
        JWT_KEY: jwtKey,
        NATS_URL: infra.natsUrl,
        NATS_CLUSTER_ID: infra.natsClusterId,
        STRIPE_KEY: env['STRIPE_KEY'] ?? 'sk_test_123',
      };
      if (NEEDS[name].mongo && infra.mongoUri !== undefined) {
        own['MONGO_URI'] = withDatabase(infra.mongoUri, `${opts.databasePrefix ?? ''}${name}`);
      }
      if (infra.redisUrl !== undefined) own['REDIS_URL'] = infra.redisUrl;
      if (infra.stripeUrl !== undefined) own['STRIPE_API_BASE'] = infra.stripeUrl;
      return { ...env, ...own };
    };
    const echo = opts.echo ?? 'warn';
    const handles: ServiceHandle[] = absent.map((name) => ({
      name,
      url: '',
      port: 0,
      pid: undefined,
      state: 'skipped',
      readyInMs: undefined,
      logFile: '',
      note: `no ${name}/src/main.ts`,
      tail: () => '',
    }));
    const running = await Promise.allSettled(
      present.map((name) =>
        startService({
          name,
          root,
          logDir,
          env: (port) => serviceEnv(name, port),
          deadline,
          // While the stack stops, the services' "disconnected" warnings are expected: keep them in
          // the log files and off the console.
          echo: () => (stopRequested ? 'none' : echo),
          log,
          register: (handle) => live.set(name, handle),
        }),
      ),
    );
    const services = running.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // Stopped together: each drains on its own, and none depends on another being up.
    cleanups.push(async () => {
      await Promise.all(services.map((service) => service.stop()));
    });
    handles.push(...services.map((service) => service.handle));
    const failures = running.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    if (failures.length > 0) throw new Error(failures.join('\n\n'));
    handles.sort((a, b) => SERVICE_NAMES.indexOf(a.name) - SERVICE_NAMES.indexOf(b.name));
    const servicesMs = Date.now() - servicesStarted;

    let stopping: Promise<void> | undefined;
    return {
      baseUrl: gateway.url,
      services: handles,
      infra: infra.handles,
      jwtKey,
      logDir,
      startupMs: Date.now() - started,
      buildMs,
      infraMs,
      servicesMs,
      stop: () => {
        stopRequested = true;
        stopping ??= runCleanups();
        return stopping;
      },
    };
  } catch (error) {
    stopRequested = true;
    await runCleanups();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// infrastructure

interface StartedInfra {
  mongoUri: string | undefined;
  natsUrl: string;
  natsClusterId: string;
  redisUrl: string | undefined;
  stripeUrl: string | undefined;
  handles: InfraHandle[];
}

async function startInfra(args: {
  ephemeral: boolean;
  dataDir: string;
  given: InfraUrls;
  needMongo: boolean;
  needRedis: boolean;
  needStripe: boolean;
  log: (line: string) => void;
  push: (cleanup: () => Promise<void>) => void;
}): Promise<StartedInfra> {
  const { ephemeral, dataDir, given, log } = args;
  const persistent = (name: string): { dataDir: string } | Record<string, never> =>
    ephemeral ? {} : { dataDir: path.join(dataDir, name) };
  const note = (tool: ToolName, name: string): string =>
    externalServer(tool) !== undefined
      ? `external (${EXTERNAL_SERVER_ENV[tool]})`
      : ephemeral
        ? 'temporary'
        : path.relative(process.cwd(), path.join(dataDir, name)) || '.';

  // Started together; each is optional (given, or not needed by the chosen services).
  const maybe = <T>(wanted: boolean, start: () => Promise<T>): Promise<T | undefined> =>
    wanted ? start() : Promise.resolve(undefined);
  const started = await Promise.allSettled([
    maybe(args.needMongo && given.mongoUri === undefined, () => startMongo({ log, ...persistent('mongo') })),
    maybe(given.natsUrl === undefined, () =>
      startNatsStreaming({ log, store: 'file', clusterId: 'ticketing', ...persistent('nats') }),
    ),
    maybe(args.needRedis && given.redisUrl === undefined, () => startRedis({ log, ...persistent('redis') })),
    maybe(args.needStripe && given.stripeUrl === undefined, () => startStripeMock({ log })),
  ]);
  const servers = started.flatMap((r) => (r.status === 'fulfilled' && r.value !== undefined ? [r.value] : []));
  args.push(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });
  const [mongo, nats, redis, stripe] = started;
  if (
    mongo.status === 'rejected' ||
    nats.status === 'rejected' ||
    redis.status === 'rejected' ||
    stripe.status === 'rejected'
  ) {
    const failures = started.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    throw new Error(`Could not start the infrastructure:\n${failures.join('\n')}`);
  }

  const mongoUri = given.mongoUri ?? mongo.value?.uri;
  const natsUrl = given.natsUrl ?? nats.value?.url ?? '';
  const natsClusterId = given.natsClusterId ?? nats.value?.clusterId ?? 'ticketing';
  const redisUrl = given.redisUrl ?? redis.value?.url;
  const stripeUrl = given.stripeUrl ?? stripe.value?.url;
  const handles: InfraHandle[] = [];
  if (mongoUri !== undefined) {
    handles.push({ name: 'mongo', url: mongoUri, note: given.mongoUri ? 'given' : note('mongo', 'mongo') });
  }
  handles.push({ name: 'nats', url: natsUrl, note: given.natsUrl ? 'given' : note('nats', 'nats') });
  if (redisUrl !== undefined) {
    handles.push({ name: 'redis', url: redisUrl, note: given.redisUrl ? 'given' : note('redis', 'redis') });
  }
  if (stripeUrl !== undefined) {
    handles.push({ name: 'stripe', url: stripeUrl, note: given.stripeUrl ? 'given' : 'stateless' });
  }
  return { mongoUri, natsUrl, natsClusterId, redisUrl, stripeUrl, handles };
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

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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

// ---------------------------------------------------------------------------------------------------
// services

const TAIL_LINES = 40;

interface RunningService {
  handle: ServiceHandle;
  stop(): Promise<void>;
}

const liveServices = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Whatever ends this process, no service may outlive it (setpriv covers a SIGKILL on Linux). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveServices) child.kill('SIGKILL');
  });
}

async function startService(args: {
  name: ServiceName;
  root: string;
  logDir: string;
  env: (port: number) => NodeJS.ProcessEnv;
  deadline: number;
  echo: () => 'warn' | 'all' | 'none';
  log: (line: string) => void;
  register: (handle: ServiceHandle) => void;
}): Promise<RunningService> {
  const { name, root, log } = args;
  const logFile = path.join(args.logDir, `${name}.log`);
  const file = createWriteStream(logFile, { flags: 'a' });
  const tail: string[] = [];
  const handle: ServiceHandle = {
    name,
    url: '',
    port: 0,
    pid: undefined,
    state: 'starting',
    readyInMs: undefined,
    logFile,
    note: '',
    tail: () => tail.join('\n'),
  };
  args.register(handle);

  let child: ChildProcess | undefined;
  let exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  let stopping = false;

  const launch = async (port: number): Promise<void> => {
    const spawnedAt = Date.now();
    tail.length = 0;
    const [command, argv] = dieWithParent(process.execPath, [path.join(root, name, 'dist', 'main.js')]);
    const proc = spawn(command, argv, {
      cwd: path.join(root, name),
      env: args.env(port),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    installExitHook();
    liveServices.add(proc);
    handle.pid = proc.pid;
    handle.port = port;
    handle.url = `http://127.0.0.1:${port}`;
    handle.state = 'starting';
    file.write(
      `${JSON.stringify({ level: 30, time: Date.now(), msg: `--- started by the dev stack on port ${port} (pid ${proc.pid ?? '?'})` })}\n`,
    );
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        file.write(`${line}\n`);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        const shown = formatServiceLine(name, line, args.echo());
        if (shown !== undefined) log(shown);
      });
    }
    exited = new Promise<ExitInfo>((resolve) => {
      proc.once('error', (error) => {
        if (proc.pid === undefined) {
          liveServices.delete(proc);
          resolve({ code: null, signal: null, error });
        }
      });
      proc.once('exit', (code, signal) => {
        liveServices.delete(proc);
        resolve({ code, signal });
      });
    });
    void exited.then((info) => {
      if (child !== proc) return;
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

    // Ready = /readyz answers 200 (Mongo and the bus connected); fail at once if the process dies.
    for (;;) {
      const status = await Promise.race([httpStatus(`${handle.url}/readyz`).catch(() => 0), exited.then(() => -1)]);
      if (status === 200) break;
      if (status === -1) {
        const info = await exited;
        const output = handle.tail();
        throw new StartError(
          `${name} ${describeExit(info)} before it was ready. Its last lines (${logFile}):\n${indent(output)}`,
          /EADDRINUSE|address already in use/i.test(output),
        );
      }
      if (Date.now() > args.deadline) {
        await stopChild(proc, exited, 2_000);
        throw new StartError(
          `${name} was not ready (GET /readyz → ${status === 0 ? 'no answer' : status}) in time. ` +
            `Its last lines (${logFile}):\n${indent(handle.tail())}`,
          false,
        );
      }
      await delay(100);
    }
    handle.state = 'ready';
    handle.readyInMs = Date.now() - spawnedAt;
  };

  try {
    await startOnFreePort(undefined, async (port) => launch(port));
  } catch (error) {
    file.end();
    throw error;
  }
  return {
    handle,
    stop: async () => {
      stopping = true;
      // The services' own shutdown (handleShutdown) drains HTTP, closes the bus and Mongo in up to
      // 15 s; past that they are killed.
      if (child !== undefined) await stopChild(child, exited, 20_000);
      if (handle.state !== 'exited') handle.state = 'stopped';
      await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<ExitInfo>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let setprivPath: string | undefined;

/** As the harness does for the servers: on Linux the kernel sends SIGTERM if we die without cleaning up. */
function dieWithParent(command: string, args: string[]): [string, string[]] {
  setprivPath ??= process.platform === 'linux' ? (findOnPath('setpriv') ?? '') : '';
  if (setprivPath === '') return [command, args];
  return [setprivPath, ['--pdeathsig', 'SIGTERM', '--', command, ...args]];
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One service log line for the console, or undefined when it is below the echo level. */
export function formatServiceLine(name: string, line: string, echo: 'warn' | 'all' | 'none'): string | undefined {
  if (echo === 'none' || line.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // Not pino: a crash before the logger existed, or a Node warning. Always worth showing.
    return `[${name}] ${line}`;
  }
  if (typeof parsed !== 'object' || parsed === null) return `[${name}] ${line}`;
  const record = parsed as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
  const level = typeof record.level === 'number' ? record.level : 30;
  if (echo === 'warn' && level < 40) return undefined;
  const label = LEVELS[level] ?? String(level);
  const message = typeof record.msg === 'string' ? record.msg : '';
  const err = typeof record.err?.message === 'string' ? `: ${record.err.message}` : '';
  return `[${name}] ${label} ${message}${err}`;
}

function indent(text: string): string {
  const trimmed = text.trim();
  return trimmed === ''
    ? '  (no output)'
    : trimmed
        .split('\n')
        .map((line) => `  | ${line}`)
        .join('\n');
}

function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

// ---------------------------------------------------------------------------------------------------
// build

/**
 * Builds what is stale: common when its dist is older than its sources, then each stale service (two
 * at a time: the machine has two cores). A lock shared by every process of this checkout keeps two
 * callers (two e2e test files starting at once, `npm start` during a test run) from writing the same
 * dist/ at the same time. Returns true when something was built.
 */
export async function buildStale(services: readonly ServiceName[], log: (line: string) => void): Promise<boolean> {
  const root = repoRoot();
  // The check runs under the lock too: a dist that another process is rewriting right now may look
  // fresh (its main.js already written) while the rest is not there yet.
  const release = await acquireBuildLock(root, log);
  try {
    const stale = ['common', ...services].filter((ws) => isStale(root, ws));
    if (stale.length === 0) return false;
    log(`building ${stale.join(', ')} (dist missing or older than its sources)...`);
    if (stale.includes('common')) await runBuild(root, 'common');
    const queue = stale.filter((ws) => ws !== 'common');
    const worker = async (): Promise<void> => {
      for (let ws = queue.shift(); ws !== undefined; ws = queue.shift()) await runBuild(root, ws);
    };
    await Promise.all([worker(), worker()]);
    return true;
  } finally {
    release();
  }
}

function isStale(root: string, workspace: string): boolean {
  const entry = path.join(root, workspace, 'dist', workspace === 'common' ? 'index.js' : 'main.js');
  let built: number;
  try {
    built = statSync(entry).mtimeMs;
  } catch {
    return true;
  }
  const inputs = [
    path.join(root, 'tsconfig.base.json'),
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => path.join(root, workspace, f)),
  ];
  return newestMtime(path.join(root, workspace, 'src'), inputs) > built;
}

function newestMtime(srcDir: string, files: string[]): number {
  let newest = 0;
  const visit = (file: string): void => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs);
    } catch {
      // An optional file that does not exist.
    }
  };
  files.forEach(visit);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        // Tests are not part of the build (tsconfig.build.json excludes them).
        if (entry.name !== '__tests__') walk(full);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        visit(full);
      }
    }
  };
  if (existsSync(srcDir)) walk(srcDir);
  return newest;
}

async function runBuild(root: string, workspace: string): Promise<void> {
  const [command, argv] = npmCommand(['run', 'build', '-w', workspace]);
  const child = spawn(command, argv, { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const info = await new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (info.code !== 0) {
    throw new Error(`npm run build -w ${workspace} ${describeExit(info)}:\n${indent(output.slice(-6000))}`);
  }
}

/** npm as the caller ran it (npm_execpath under `npm start` / `npm test`), else from PATH. */
function npmCommand(args: string[]): [string, string[]] {
  const execPath = process.env['npm_execpath'];
  if (execPath !== undefined && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath, ...args]];
  return [findOnPath('npm') ?? 'npm', args];
}

async function acquireBuildLock(root: string, log: (line: string) => void): Promise<() => void> {
  const id = createHash('sha1').update(root).digest('hex').slice(0, 10);
  const lockDir = path.join(os.tmpdir(), `ticketing-build-${id}.lock`);
  const ownerFile = path.join(lockDir, 'pid');
  const deadline = Date.now() + 10 * 60_000;
  const waitStarted = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(ownerFile, `${process.pid}\n`);
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // A holder that died (killed mid-build) leaves the directory behind: take it over.
    const holder = readPid(ownerFile);
    const age = Date.now() - (statSafe(lockDir) ?? Date.now());
    if ((holder !== undefined && !isAlive(holder)) || (holder === undefined && age > 5_000)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for the build lock ${lockDir}`);
    if (!announced && Date.now() > waitStarted + 1000) {
      log(`waiting for another build (pid ${holder ?? '?'}) to finish...`);
      announced = true;
    }
    await delay(250);
  }
}

function statSafe(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
