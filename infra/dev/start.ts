/**
 * `npm start`: the whole system on this machine without a cluster (see infra/dev/stack/).
 *
 *   npm start                      data kept in .data/ (git-ignored) across restarts
 *   npm start -- --ephemeral       nothing kept
 *   PORT=8080 npm start            gateway port (3000 by default)
 *   npm start -- --verbose         echo every service log line, not only warnings
 *
 * Every other variable passes through to the services (EXPIRATION_WINDOW_SECONDS, LOG_LEVEL, JWT_KEY,
 * STRIPE_KEY, ...), and MONGO_URI / NATS_URL / REDIS_URL / STRIPE_MOCK_URL use running servers instead
 * of starting them. Ctrl-C or SIGTERM stops everything, services first, and exits 0.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from './lib/infra-process';
import { startStack, type Stack } from './stack';

const SUPERVISED = 'TICKETING_STACK_SUPERVISED';

interface Args {
  ephemeral: boolean;
  verbose: boolean;
  port: number;
  host: string;
  bus: 'stan' | 'jetstream';
}

const USAGE = `usage: npm start [-- --ephemeral] [-- --verbose] [-- --port N] [-- --bus stan|jetstream]
  --ephemeral   keep no data (temporary directories, a random JWT key)
  --bus B       the event bus: stan (NATS Streaming, default; or $EVENT_BUS) or jetstream (NATS JetStream)
  --verbose     print every service log line (default: warnings and errors only)
  --port N      gateway port (default: $PORT or 3000; 0 picks a free one)
  environment:  GATEWAY_HOST (default 127.0.0.1), MONGO_URI, NATS_URL, REDIS_URL, STRIPE_MOCK_URL,
                and anything the services read (EXPIRATION_WINDOW_SECONDS, LOG_LEVEL, JWT_KEY, ...)`;

function parseArgs(argv: string[]): Args | string {
  const args: Args = {
    ephemeral: false,
    verbose: false,
    port: 3000,
    host: process.env['GATEWAY_HOST'] ?? '127.0.0.1',
    bus: process.env['EVENT_BUS'] === 'jetstream' ? 'jetstream' : 'stan',
  };
  let busText: string | undefined;
  const envPort = process.env['PORT'];
  let portText = envPort === undefined || envPort === '' ? undefined : envPort;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--ephemeral') args.ephemeral = true;
    else if (arg === '--verbose') args.verbose = true;
    else if (arg === '--port') portText = argv[++i];
    else if (arg?.startsWith('--port=')) portText = arg.slice('--port='.length);
    else if (arg === '--bus') busText = argv[++i];
    else if (arg?.startsWith('--bus=')) busText = arg.slice('--bus='.length);
    else if (arg === '--help' || arg === '-h') return USAGE;
    else return `unknown argument ${arg ?? ''}\n${USAGE}`;
  }
  if (busText !== undefined) {
    if (busText !== 'stan' && busText !== 'jetstream') return `invalid bus "${busText}"\n${USAGE}`;
    args.bus = busText;
  }
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) return `invalid port "${portText}"\n${USAGE}`;
    args.port = port;
  }
  return args;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map(
      (row) =>
        `  ${row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}`,
    )
    .join('\n');
}

function readinessTable(stack: Stack, ephemeral: boolean): string {
  const relative = (file: string): string => {
    const rel = path.relative(process.cwd(), file);
    return rel === '' || rel.startsWith('..') ? file : rel;
  };
  const rows = [
    ['service', 'url', 'state', 'ready in', 'pid / data'],
    ['gateway', stack.baseUrl, 'ready', '', String(process.pid)],
    ...stack.services.map((s) => [
      s.name,
      s.url === '' ? '-' : s.url,
      s.state,
      s.readyInMs === undefined ? '' : seconds(s.readyInMs),
      s.state === 'skipped' ? s.note : String(s.pid ?? ''),
    ]),
    ...(stack.client === undefined
      ? []
      : [
          [
            'client',
            stack.client.url,
            stack.client.state,
            stack.client.readyInMs === undefined ? '' : seconds(stack.client.readyInMs),
            String(stack.client.pid ?? ''),
          ],
        ]),
    ...stack.infra.map((i) => [i.name, i.url, 'ready', '', i.note]),
  ];
  const logs = path.join(relative(stack.logDir), '<service>.log');
  return `${table(rows)}\n\n  logs: ${logs}${ephemeral ? ' (deleted on stop)' : ''}`;
}

/** The stack runs in its own process group (see supervise) and stops on the first signal. */
async function run(args: Args): Promise<void> {
  let stack: Stack | undefined;
  let stopRequested = false;
  const stop = async (signal: string): Promise<void> => {
    if (stack === undefined) {
      stopRequested = true;
      print(`${signal}: stopping as soon as the stack has started (again to kill it now)`);
      return;
    }
    const started = Date.now();
    print(`stopping (${signal})...`);
    await stack.stop();
    const unclean = stack.services.filter((s) => s.state !== 'skipped' && !/code 0$/.test(s.note));
    for (const s of unclean) print(`  ${s.name} ${s.note}`);
    print(`stopped in ${Date.now() - started} ms`);
    process.exit(0);
  };
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstSignalAt === undefined) {
      firstSignalAt = now;
      void stop(signal);
      return;
    }
    // Copies of one request arrive together (the kernel's parent-death signal, npm relaying a
    // Ctrl-C); a second request, later, means: stop waiting. The exit hooks SIGKILL every child.
    if (now - firstSignalAt < 1000) return;
    print(`${signal} again: killing everything`);
    process.exit(1);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  print(`starting the ticketing stack${args.ephemeral ? ' (ephemeral: nothing is kept)' : ' (data in .data/)'}...`);
  try {
    stack = await startStack({
      port: args.port,
      host: args.host,
      ephemeral: args.ephemeral,
      bus: args.bus,
      echo: args.verbose ? 'all' : 'warn',
      log: print,
      skipMissing: true,
    });
  } catch (error) {
    print(`\nthe stack did not start:\n${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  print('');
  print(readinessTable(stack, args.ephemeral));
  const skipped = stack.services.filter((s) => s.state === 'skipped').map((s) => s.name);
  if (skipped.length > 0) print(`  not running (not written yet): ${skipped.join(', ')}`);
  const parts = [
    ...(stack.buildMs > 0 ? [`build ${seconds(stack.buildMs)}`] : []),
    `infrastructure ${seconds(stack.infraMs)}`,
    `services ${seconds(stack.servicesMs)}`,
  ];
  print(`\nready in ${seconds(stack.startupMs)} (${parts.join(', ')}): ${stack.baseUrl}   Ctrl-C stops everything`);
  if (stack.client !== undefined) print(`the web client: open ${stack.baseUrl}/ in a browser`);
  print('');
  if (stopRequested) await stop('stop requested during start-up');
}

/**
 * A terminal's Ctrl-C signals every process in the foreground group at once: the databases and the
 * bus would die while the services are still draining requests and flushing their outboxes. So the
 * stack runs in a child that leads its own process group, and this process turns the first signal
 * into one SIGTERM for it, which stops things in order (gateway, services, infrastructure).
 */
function supervise(): void {
  const script = process.argv[1] ?? __filename;
  const argv = [...process.execArgv, script, ...process.argv.slice(2)];
  // If this process is SIGKILLed, the kernel still tells the stack to stop (Linux, util-linux setpriv).
  const setpriv = process.platform === 'linux' ? findOnPath('setpriv') : undefined;
  const [command, args] =
    setpriv === undefined
      ? [process.execPath, argv]
      : [setpriv, ['--pdeathsig', 'SIGTERM', '--', process.execPath, ...argv]];
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [SUPERVISED]: '1' },
  });
  let firstSignalAt: number | undefined;
  const forward = (): void => {
    // npm relays the terminal's signal too: copies within a second are the same request.
    const now = Date.now();
    if (firstSignalAt !== undefined && now - firstSignalAt < 1000) return;
    firstSignalAt ??= now;
    child.kill('SIGTERM');
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  // Whoever started us (npm, a supervisor) may die without passing a signal on (SIGKILL, a shell
  // that does not forward it): once we are orphaned, stop as if asked to, unless a stop is already
  // under way (npm exits as soon as it has passed a SIGTERM on; a second one would mean "kill now").
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanWatch);
    if (firstSignalAt === undefined) forward();
  }, 1000);
  orphanWatch.unref();
  child.on('error', (error) => {
    print(`could not start the stack process: ${error.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal === null ? 1 : (os.constants.signals[signal] ?? 1)));
  });
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    print(args);
    process.exit(args === USAGE ? 0 : 2);
  }
  if (process.platform !== 'win32' && process.env[SUPERVISED] !== '1') {
    supervise();
    return;
  }
  run(args).catch((error: unknown) => {
    print(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}

main();
