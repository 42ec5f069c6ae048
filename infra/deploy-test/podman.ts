import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { aptInstall, canAptInstall, findOnPath } from '@ticketing/devinfra';

/**
 * podman, as `npm run test:deploy` needs it: installed from Debian when missing, and configured through
 * a containers.conf of our own (CONTAINERS_CONF points at it, /etc is left alone) with what this kind
 * of machine takes: runc (crun refuses the machine's cgroup v1 layout), the cgroupfs manager and a
 * file event log (no systemd), and default ulimits that root may set here.
 */

// runc is named so that apt does not pick crun for podman's `crun | runc` dependency; netavark and
// aardvark-dns give podman networks their DNS (a Service name as a network alias); debootstrap makes
// the stand-in for the node base image when it cannot be pulled.
const PACKAGES = ['podman', 'runc', 'netavark', 'aardvark-dns', 'iptables', 'debootstrap'];

const CONTAINERS_CONF = `# Written by infra/deploy-test (npm run test:deploy); read through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
`;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type Log = (line: string) => void;

let podmanEnv: NodeJS.ProcessEnv = process.env;

/** Makes podman usable; returns a note on what was done ("installed with apt-get in 40 s"). */
export async function ensurePodman(configDir: string, log: Log): Promise<string> {
  let note = 'already installed';
  const missing = PACKAGES.filter((p) => !isInstalled(p));
  if (findOnPath('podman') === undefined || missing.length > 0) {
    if (!canAptInstall()) {
      throw new Error(
        `podman is missing (packages ${missing.join(' ')}) and cannot be installed here (needs root and apt-get): ` +
          `install ${PACKAGES.join(' ')} and run again`,
      );
    }
    const started = Date.now();
    log(`installing ${missing.join(' ')} with apt-get...`);
    const result = await aptInstall(PACKAGES, { log });
    if (!result.ok) throw new Error(result.reason);
    note = `installed ${missing.join(' ')} with apt-get in ${Math.round((Date.now() - started) / 1000)} s`;
  }
  mkdirSync(configDir, { recursive: true });
  const conf = path.join(configDir, 'containers.conf');
  // Idempotent: rewritten only when it differs, so a second run changes nothing.
  let current = '';
  try {
    current = readFileSync(conf, 'utf8');
  } catch {
    // First run.
  }
  if (current !== CONTAINERS_CONF) writeFileSync(conf, CONTAINERS_CONF);
  podmanEnv = { ...process.env, CONTAINERS_CONF: conf };
  const info = await podman(['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Host.NetworkBackend}}']);
  if (info.code !== 0) throw new Error(`podman info failed:\n${info.stderr}`);
  const [runtime, network] = info.stdout.trim().split(' ');
  if (runtime !== 'runc' || network !== 'netavark') {
    throw new Error(`podman uses runtime ${runtime ?? '?'} and network ${network ?? '?'}; wanted runc and netavark`);
  }
  return note;
}

function isInstalled(pkg: string): boolean {
  try {
    const status = readFileSync('/var/lib/dpkg/status', 'utf8');
    return new RegExp(`^Package: ${pkg}\\n(?:[^\\n]+\\n)*?Status: install ok installed`, 'm').test(status);
  } catch {
    return findOnPath(pkg) !== undefined;
  }
}

export interface PodmanOptions {
  /** Called with each output line as it comes (builds are long; show progress). */
  onLine?: Log;
  timeoutMs?: number;
  /** Lower priority (nice 10) for heavy work: the machine is shared. */
  nice?: boolean;
}

/** Runs podman with our containers.conf; never rejects (the caller reads the code). */
export function podman(args: string[], opts: PodmanOptions = {}): Promise<RunResult> {
  return run(opts.nice === true ? 'nice' : 'podman', opts.nice === true ? ['-n', '10', 'podman', ...args] : args, opts);
}

export function run(command: string, args: string[], opts: PodmanOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: podmanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const onData = (chunk: Buffer, isErr: boolean): void => {
      const text = chunk.toString('utf8');
      if (isErr) stderr += text;
      else stdout += text;
      if (opts.onLine === undefined) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) opts.onLine(line);
    };
    child.stdout.on('data', (c: Buffer) => onData(c, false));
    child.stderr.on('data', (c: Buffer) => onData(c, true));
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs).unref();
    child.once('error', (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.once('close', (code) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** podman that must succeed: throws with its output otherwise. */
export async function podmanOk(args: string[], opts: PodmanOptions = {}): Promise<string> {
  const result = await podman(args, opts);
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`podman ${args.slice(0, 3).join(' ')} ... exited with ${String(result.code)}:\n${tail}`);
  }
  return result.stdout;
}
