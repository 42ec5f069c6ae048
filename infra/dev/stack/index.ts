import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lib/infra';
import { apiPages } from '../api-pages';
import { ingressRoutes, startGateway, type Gateway } from '../gateway';
import { statusPages } from '../status-page';
import { buildStale } from './build';
import {
  buildClientIfStale,
  clientPresent,
  startClient,
  type ClientHandle,
  type RunningClient,
  type StartClientArgs,
} from './client';
import { prepareData } from './data-dir';
import { startInfra, type StartedInfra } from './infrastructure';
import { serviceEnv, startServices } from './service-runner';
import { SERVICE_NAMES, type Log, type ServiceHandle, type ServiceName, type Stack, type StackOptions } from './types';

/**
 * The local stack without a cluster: the infrastructure (through the test harness in
 * infra/dev/lib/infra.ts, or servers named in the environment), the five services run from their
 * built JavaScript as separate processes, and a gateway that routes like the Ingress. Used by
 * `npm start` (infra/dev/start.ts), the end-to-end tests (test/e2e) and the bench.
 *
 * This file orders the steps; each lives in its own file: data-dir.ts (data directory, its lock, the
 * JWT key), build.ts (stale dist/ folders), infrastructure.ts (the servers), service-runner.ts and
 * service-process.ts (the services' processes).
 */

export * from './types';
export { buildStale } from './build';
export { buildClientIfStale, type ClientHandle } from './client';
export { formatServiceLine } from './text';
export { launchService, type LaunchedService, type LaunchOptions } from './service-process';

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const started = Date.now();
  const root = repoRoot();
  const log = opts.log ?? ((): void => {});
  const ephemeral = opts.ephemeral === true;
  const env = { ...process.env, ...opts.env };
  const { present, absent } = servicesToRun(root, opts, log);
  const withClient = opts.client ?? clientPresent();

  let stopRequested = false;
  let startingUp = true;
  const live = new Map<ServiceName, ServiceHandle>();
  const web: { handle?: ClientHandle } = {};
  // Until startStack returns, a written service that has not failed is on its way (being built,
  // waiting for the infrastructure, or connecting): the gateway says so instead of "not running".
  const starting = (name: ServiceName): boolean =>
    startingUp && !stopRequested && present.includes(name) && (live.get(name)?.state ?? 'starting') === 'starting';
  const cleanups = new Cleanups(log);
  try {
    const data = prepareData({ root, ephemeral, dataDir: opts.dataDir, logDir: opts.logDir, env });
    cleanups.push(async () => data.release());
    // The gateway first: a port in use fails at once, not after a build, and until a service is
    // ready its routes answer 503 "starting" (as the Ingress answers 503 while a Deployment has no
    // ready pod).
    const clientStarting = (): boolean =>
      withClient && startingUp && !stopRequested && (web.handle?.state ?? 'starting') === 'starting';
    const gateway = await openGateway(
      opts,
      live,
      starting,
      withClient ? { web, starting: clientStarting } : undefined,
      log,
    );
    cleanups.gateway = gateway;

    const { buildMs, clientBuildMs } = await buildAll(root, opts, present, withClient, log);

    const infraStarted = Date.now();
    const infra = await startInfrastructure(opts, present, ephemeral, data.dataDir, log);
    cleanups.push(() => infra.stop());

    // Counted from here: a first build or a first tool install may take minutes before this point.
    const servicesStarted = Date.now();
    const databasePrefix = opts.databasePrefix ?? '';
    const echo = opts.echo ?? 'warn';
    const deadline = servicesStarted + (opts.readyTimeoutMs ?? 60_000);
    // The client needs nothing but the gateway's address: it starts while the services connect.
    const client = maybeStartClient(withClient, { apiUrl: gateway.url, env, logDir: data.logDir, deadline, log }, web);
    // Stopped with the rest, even when the services fail to start.
    cleanups.push(async () => (await client.catch(() => undefined))?.stop());
    const services = await startServices({
      present,
      absent,
      logDir: data.logDir,
      env: (name, port) => serviceEnv({ name, port, env, infra, jwtKey: data.jwtKey, databasePrefix }),
      deadline,
      // While the stack stops, the services' "disconnected" warnings are expected: keep them in
      // the log files and off the console.
      echo: () => (stopRequested ? 'none' : echo),
      log,
      register: (handle) => live.set(handle.name, handle),
    });
    cleanups.push(() => services.stop());
    const runningClient = await client;

    let stopping: Promise<void> | undefined;
    startingUp = false;
    return {
      baseUrl: gateway.url,
      services: services.handles,
      infra: infra.handles,
      jwtKey: data.jwtKey,
      logDir: data.logDir,
      startupMs: Date.now() - started,
      buildMs,
      clientBuildMs,
      client: runningClient?.handle,
      infraMs: servicesStarted - infraStarted,
      servicesMs: Date.now() - servicesStarted,
      stop: () => {
        stopRequested = true;
        stopping ??= cleanups.run();
        return stopping;
      },
    };
  } catch (error) {
    stopRequested = true;
    await cleanups.run();
    throw error;
  }
}

/** The wanted services split into those written (src/main.ts exists) and those not written yet. */
function servicesToRun(root: string, opts: StackOptions, log: Log): { present: ServiceName[]; absent: ServiceName[] } {
  const wanted = opts.services ?? SERVICE_NAMES;
  const present = wanted.filter((name) => existsSync(path.join(root, name, 'src', 'main.ts')));
  const absent = wanted.filter((name) => !present.includes(name));
  if (absent.length > 0 && opts.skipMissing !== true) {
    throw new Error(`No ${absent.map((name) => `${name}/src/main.ts`).join(', ')}: these services are not written yet`);
  }
  for (const name of absent) log(`skipping ${name}: there is no ${name}/src/main.ts yet`);
  return { present, absent };
}

/** The Ingress stand-in; a route answers only once its service is ready (503 "starting" until then). */
async function openGateway(
  opts: StackOptions,
  live: Map<ServiceName, ServiceHandle>,
  starting: (name: ServiceName) => boolean,
  client: { web: { handle?: ClientHandle }; starting: () => boolean } | undefined,
  log: Log,
): Promise<Gateway> {
  const port = opts.port ?? 3000;
  const targets: Record<string, () => string | undefined> = Object.fromEntries(
    SERVICE_NAMES.map((name) => [
      name,
      (): string | undefined => {
        const handle = live.get(name);
        return handle?.state === 'ready' ? handle.url : undefined;
      },
    ]),
  );
  if (client !== undefined) {
    targets['client'] = () => (client.web.handle?.state === 'ready' ? client.web.handle.url : undefined);
  }
  const host = opts.host === undefined ? {} : { host: opts.host };
  const isStarting = (service: string): boolean =>
    (service === 'client' && client?.starting() === true) ||
    SERVICE_NAMES.some((name) => name === service && starting(name));
  // The API document for everyone; the status page (which scrapes each service's metrics port) for
  // this machine only.
  const pages = [
    ...apiPages(),
    ...statusPages(() =>
      SERVICE_NAMES.map((name) => {
        const handle = live.get(name);
        const running = handle !== undefined && (handle.state === 'ready' || handle.state === 'starting');
        return {
          name,
          state: handle?.state ?? 'not started',
          url: running ? handle.url : '',
          metricsUrl: running ? handle.metricsUrl : '',
        };
      }),
    ),
  ];
  return startGateway({ routes: ingressRoutes(targets, isStarting), pages, port, ...host, log }).catch(
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new Error(
        `Port ${port} is in use: stop whatever listens there, or choose another port (PORT=3001 npm start)`,
      );
    },
  );
}

/** Builds what is stale (unless the build is off) and checks that each service to run has its dist/main.js. */
async function buildAll(
  root: string,
  opts: StackOptions,
  present: readonly ServiceName[],
  withClient: boolean,
  log: Log,
): Promise<{ buildMs: number; clientBuildMs: number }> {
  const servicesBuildMs = opts.build === false ? 0 : await buildIfStale(present, log);
  const clientBuildMs = opts.build === false || !withClient ? 0 : await buildClientIfStale(log);
  const buildMs = servicesBuildMs + clientBuildMs;
  for (const name of present) {
    if (!existsSync(path.join(root, name, 'dist', 'main.js'))) {
      throw new Error(`${name}/dist/main.js is missing: run npm run build (or start with build enabled)`);
    }
  }
  return { buildMs, clientBuildMs };
}

/** Starts the client when it is wanted, registering its handle in `web`; resolves undefined when it is not. */
function maybeStartClient(
  withClient: boolean,
  args: Omit<StartClientArgs, 'register'>,
  web: { handle?: ClientHandle },
): Promise<RunningClient | undefined> {
  return withClient
    ? startClient({ ...args, register: (handle) => (web.handle = handle) })
    : Promise.resolve(undefined);
}

/** The servers the services need, those in opts.infra as given, on the bus of opts.bus (else EVENT_BUS). */
function startInfrastructure(
  opts: StackOptions,
  services: readonly ServiceName[],
  ephemeral: boolean,
  dataDir: string,
  log: Log,
): Promise<StartedInfra> {
  const given = opts.infra ?? {};
  const bus = opts.bus ?? (process.env['EVENT_BUS'] === 'jetstream' ? 'jetstream' : 'stan');
  return startInfra({ services, ephemeral, dataDir, given, log, bus });
}

/** Milliseconds the build took, 0 when nothing was stale. */
async function buildIfStale(services: readonly ServiceName[], log: Log): Promise<number> {
  const buildStarted = Date.now();
  const built = await buildStale(services, log);
  return built ? Date.now() - buildStarted : 0;
}

/** What stop (or a failed start) undoes: the gateway first, then the rest in reverse order of start. */
class Cleanups {
  gateway: Gateway | undefined;
  private readonly actions: Array<() => Promise<void>> = [];

  constructor(private readonly log: Log) {}

  push(action: () => Promise<void>): void {
    this.actions.push(action);
  }

  async run(): Promise<void> {
    // The gateway first, so no request reaches a service that is shutting down.
    await this.gateway?.close();
    this.gateway = undefined;
    for (const action of this.actions.splice(0).reverse()) {
      try {
        await action();
      } catch (error) {
        this.log(`stop: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
