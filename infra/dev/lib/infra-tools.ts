import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { aptInstall, canAptInstall } from './infra-apt';
import {
  describeExit,
  findOnPath,
  formatTail,
  isExecutableFile,
  removeTempDir,
  spawnManaged,
  trackTempDir,
} from './infra-process';

export { findOnPath } from './infra-process';

/**
 * Finds or installs the server binaries the tests and the dev stack run. Everything we build goes to
 * <repo>/.tools/bin (git-ignored), pinned, so a fresh clone gets the same servers as CI and a second
 * run installs nothing.
 */

export type ToolName = 'mongo' | 'nats' | 'jetstream' | 'redis' | 'stripe';
export const ALL_TOOLS: readonly ToolName[] = ['mongo', 'nats', 'jetstream', 'redis', 'stripe'];

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => {
  process.stderr.write(`${line}\n`);
};

/** How a tool is provided. */
export interface ToolStatus {
  tool: ToolName;
  /** The server program: "FerretDB", "mongod", "nats-streaming-server", ... */
  provider: string;
  /** Absolute path of the binary; undefined when an environment variable points at a running server. */
  path: string | undefined;
  source: 'env' | 'path' | 'tools' | 'built' | 'apt';
  /** A few words for humans: "already installed", "built in 58 s", "MONGO_URI is set". */
  note: string;
}

/** Environment variables that point at servers someone else runs; when set we start nothing. */
export const EXTERNAL_SERVER_ENV: Record<ToolName, string> = {
  mongo: 'MONGO_URI',
  nats: 'NATS_URL',
  jetstream: 'NATS_JETSTREAM_URL',
  redis: 'REDIS_URL',
  stripe: 'STRIPE_MOCK_URL',
};

export function externalServer(tool: ToolName): string | undefined {
  const value = process.env[EXTERNAL_SERVER_ENV[tool]];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

// Pinned versions. Bump deliberately: the stamp next to each binary makes the next run rebuild.
const NATS_STREAMING = { module: 'github.com/nats-io/nats-streaming-server', version: 'v0.25.6' };
const STRIPE_MOCK = { module: 'github.com/stripe/stripe-mock', version: 'v0.203.0' };
// nats-server with JetStream: Debian bookworm's package when apt can install it, else this build.
const NATS_SERVER = { module: 'github.com/nats-io/nats-server/v2', version: 'v2.9.10' };

let cachedRoot: string | undefined;

/** The monorepo root: the nearest directory upwards whose package.json declares "workspaces". */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  for (const start of [__dirname, process.cwd()]) {
    let dir = path.resolve(start);
    for (;;) {
      const pkg = path.join(dir, 'package.json');
      if (existsSync(pkg) && declaresWorkspaces(pkg)) {
        cachedRoot = dir;
        return dir;
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error(`cannot find the repository root (a package.json with "workspaces") above ${__dirname}`);
}

function declaresWorkspaces(packageJson: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(packageJson, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed;
  } catch {
    return false;
  }
}

export function toolsBinDir(): string {
  return path.join(repoRoot(), '.tools', 'bin');
}

function findGo(): string | undefined {
  // The official tarball installs to /usr/local/go, which non-login shells often lack on PATH.
  return findOnPath('go') ?? ['/usr/local/go/bin/go'].find(isExecutableFile);
}

/** Raised for a tool that cannot be provided; the message says how to provide it. */
class MissingTool extends Error {}

interface GoTool {
  binary: string;
  label: string;
  /** Identifies the wanted build; a binary whose stamp differs is rebuilt. */
  stamp(): string;
  /** Builds into `outDir`, which must then contain `binary`. */
  build(outDir: string, extraFlags: string[]): { args: string[]; cwd: string };
}

const FERRETDB: GoTool = {
  binary: 'ferretdb',
  label: 'FerretDB (infra/dev/ferretdb)',
  stamp() {
    const hash = createHash('sha256');
    // Every Go source of the embedding, so an edit to any of them triggers a rebuild.
    const sources = readdirSync(ferretSourceDir())
      .filter((f) => f.endsWith('.go'))
      .sort();
    for (const file of [...sources, 'go.mod', 'go.sum']) {
      hash.update(file).update(readFileSync(path.join(ferretSourceDir(), file)));
    }
    return `ferretdb-src-sha256:${hash.digest('hex')}`;
  },
  build(outDir, extraFlags) {
    // -buildvcs=false: the binary needs no git metadata, and git may refuse a repo owned by another user.
    return {
      args: ['build', '-buildvcs=false', ...extraFlags, '-o', path.join(outDir, 'ferretdb'), '.'],
      cwd: ferretSourceDir(),
    };
  },
};

function goInstallTool(binary: string, pkg: { module: string; version: string }): GoTool {
  return {
    binary,
    label: `${binary} ${pkg.version}`,
    stamp: () => `${pkg.module}@${pkg.version}`,
    // go install writes to GOBIN, which runGo points at the build directory.
    build: (_outDir, extraFlags) => ({
      args: ['install', ...extraFlags, `${pkg.module}@${pkg.version}`],
      cwd: repoRoot(),
    }),
  };
}

function ferretSourceDir(): string {
  return path.join(repoRoot(), 'infra', 'dev', 'ferretdb');
}

const NATS_TOOL = goInstallTool('nats-streaming-server', NATS_STREAMING);
const STRIPE_TOOL = goInstallTool('stripe-mock', STRIPE_MOCK);
const NATS_SERVER_TOOL = goInstallTool('nats-server', NATS_SERVER);

const inFlight = new Map<ToolName, Promise<ToolStatus>>();

/**
 * Makes sure each requested tool can run, installing only what is missing, and logs where each one is.
 * Throws one Error listing every tool that could not be provided and how to provide it.
 */
export async function ensureTools(
  which: readonly ToolName[],
  log: Log = stderrLog,
  opts: { reportStatus?: boolean } = {},
): Promise<ToolStatus[]> {
  const statuses: ToolStatus[] = [];
  const problems: string[] = [];
  // One after the other: builds are CPU-bound and would only slow each other down.
  for (const tool of which) {
    try {
      const status = await ensureTool(tool, log);
      statuses.push(status);
      if (opts.reportStatus !== false) {
        log(`${tool.padEnd(6)} ${status.provider.padEnd(21)} ${status.path ?? '-'} (${status.note})`);
      }
    } catch (error) {
      problems.push(error instanceof MissingTool ? error.message : `${tool}: ${String(error)}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`Test infrastructure is missing:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  return statuses;
}

/**
 * The same for one tool, shared by concurrent callers in this process (two starters racing must not
 * build the same binary twice). Progress of slow installs goes to `log`.
 */
export function ensureTool(tool: ToolName, log: Log = stderrLog): Promise<ToolStatus> {
  const pending = inFlight.get(tool);
  if (pending !== undefined) return pending;
  const promise = provideTool(tool, log).finally(() => inFlight.delete(tool));
  inFlight.set(tool, promise);
  return promise;
}

async function provideTool(tool: ToolName, log: Log): Promise<ToolStatus> {
  const external = externalServer(tool);
  if (external !== undefined) {
    return {
      tool,
      provider: 'external server',
      path: undefined,
      source: 'env',
      note: `${EXTERNAL_SERVER_ENV[tool]} is set`,
    };
  }
  switch (tool) {
    case 'mongo': {
      const mongod = findOnPath('mongod');
      if (mongod !== undefined) return { tool, provider: 'mongod', path: mongod, source: 'path', note: 'on PATH' };
      return provideGoTool(
        tool,
        'FerretDB',
        FERRETDB,
        log,
        'FerretDB (the MongoDB-compatible server used when mongod is not on PATH)',
      );
    }
    case 'nats':
      return provideGoTool(tool, 'nats-streaming-server', NATS_TOOL, log, 'nats-streaming-server');
    case 'stripe':
      return provideGoTool(tool, 'stripe-mock', STRIPE_TOOL, log, 'stripe-mock');
    case 'redis':
      return provideRedis(log);
    case 'jetstream':
      return provideNatsServer(log);
  }
}

async function provideGoTool(
  tool: ToolName,
  provider: string,
  spec: GoTool,
  log: Log,
  what: string,
): Promise<ToolStatus> {
  const target = path.join(toolsBinDir(), spec.binary);
  const stampFile = `${target}.stamp`;
  const wanted = spec.stamp();
  const haveTarget = isExecutableFile(target);
  if (haveTarget && readStamp(stampFile) === wanted) {
    return { tool, provider, path: target, source: 'tools', note: 'already installed' };
  }

  const go = findGo();
  if (go !== undefined) {
    const started = Date.now();
    log(
      `${tool}: building ${spec.label} into ${path.dirname(target)} (first time only: 1-2 minutes with a cold Go build cache)...`,
    );
    await goBuild(go, spec, target);
    writeFileSync(stampFile, `${wanted}\n`);
    const seconds = Math.round((Date.now() - started) / 1000);
    return { tool, provider, path: target, source: 'built', note: `built in ${seconds} s` };
  }

  if (haveTarget) {
    log(`${tool}: ${target} is out of date but Go is not installed to rebuild it; using it as it is`);
    return { tool, provider, path: target, source: 'tools', note: 'out of date (no Go to rebuild)' };
  }
  const onPath = findOnPath(spec.binary);
  if (onPath !== undefined) {
    return { tool, provider, path: onPath, source: 'path', note: 'on PATH, version not checked' };
  }
  const alternatives =
    tool === 'mongo'
      ? 'put mongod on PATH, or set MONGO_URI to a running server'
      : `or set ${EXTERNAL_SERVER_ENV[tool]} to a running server`;
  throw new MissingTool(
    `${tool}: Go is needed to build ${what}: install Go >= 1.22 (https://go.dev/dl/, put it on PATH), ` +
      `${tool === 'mongo' ? '' : `put ${spec.binary} on PATH, `}${alternatives}`,
  );
}

function readStamp(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Builds into a private directory next to the target and renames the result into place: rename is
 * atomic on one filesystem, so no run (not even a concurrent one) ever executes a half-written binary.
 */
async function goBuild(go: string, spec: GoTool, target: string): Promise<void> {
  mkdirSync(path.dirname(target), { recursive: true });
  const outDir = mkdtempSync(path.join(path.dirname(target), `.build-${spec.binary}-`));
  trackTempDir(outDir);
  try {
    let result = await runGo(go, spec, outDir, []);
    // Some Go releases refuse the go:linkname tricks of older dependencies (nats-streaming-server's
    // raft/bolt stack); disabling that check is the documented escape hatch.
    if (!result.ok && /linkname/i.test(result.output)) {
      result = await runGo(go, spec, outDir, ['-ldflags=-checklinkname=0']);
    }
    if (!result.ok) {
      throw new MissingTool(
        `building ${spec.label} with ${go} failed (${result.exit}). ` +
          `Check that the Go module proxy is reachable (GOPROXY) and Go is >= 1.22. Output:\n${result.output}`,
      );
    }
    renameSync(path.join(outDir, spec.binary), target);
  } finally {
    removeTempDir(outDir);
  }
}

async function runGo(
  go: string,
  spec: GoTool,
  outDir: string,
  extraFlags: string[],
): Promise<{ ok: boolean; exit: string; output: string }> {
  const { args, cwd } = spec.build(outDir, extraFlags);
  const proc = spawnManaged(`go ${args[0] ?? ''}`, go, args, { cwd, env: { ...process.env, GOBIN: outDir } });
  const info = await proc.exited;
  return { ok: info.code === 0, exit: describeExit(info), output: formatTail(proc) };
}

async function provideRedis(log: Log): Promise<ToolStatus> {
  const provider = 'redis-server';
  const local = path.join(toolsBinDir(), 'redis-server');
  if (isExecutableFile(local)) return { tool: 'redis', provider, path: local, source: 'tools', note: 'in .tools/bin' };
  const onPath = findOnPath('redis-server');
  if (onPath !== undefined) return { tool: 'redis', provider, path: onPath, source: 'path', note: 'on PATH' };

  if (canAptInstall()) {
    log('redis: installing redis-server with apt-get (first time only)...');
    const started = Date.now();
    const result = await aptInstall(['redis-server'], { log });
    if (!result.ok) throw new MissingTool(`redis: ${result.reason}`);
    const installed = findOnPath('redis-server') ?? ['/usr/bin/redis-server'].find(isExecutableFile);
    if (installed !== undefined) {
      const seconds = Math.round((Date.now() - started) / 1000);
      return {
        tool: 'redis',
        provider,
        path: installed,
        source: 'apt',
        note: `installed with apt-get in ${seconds} s`,
      };
    }
  }
  throw new MissingTool(
    'redis: redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; ' +
      'macOS: brew install redis), copy a redis-server binary into .tools/bin, or set REDIS_URL to a running server',
  );
}

/** Debian installs nats-server to /usr/sbin, which is not on every user's PATH. */
const DEBIAN_NATS_SERVER = '/usr/sbin/nats-server';

/**
 * nats-server (JetStream): .tools/bin, PATH or Debian's package (2.9.10 on bookworm) first; else
 * apt-get install nats-server where apt can run; else a Go build of the same version.
 */
async function provideNatsServer(log: Log): Promise<ToolStatus> {
  const provider = 'nats-server';
  const local = path.join(toolsBinDir(), 'nats-server');
  if (isExecutableFile(local))
    return { tool: 'jetstream', provider, path: local, source: 'tools', note: 'in .tools/bin' };
  const installed = findOnPath('nats-server') ?? [DEBIAN_NATS_SERVER].find(isExecutableFile);
  if (installed !== undefined) return { tool: 'jetstream', provider, path: installed, source: 'path', note: 'on PATH' };

  if (canAptInstall()) {
    log('jetstream: installing nats-server with apt-get (first time only)...');
    const started = Date.now();
    const result = await aptInstall(['nats-server'], { log });
    const found = findOnPath('nats-server') ?? [DEBIAN_NATS_SERVER].find(isExecutableFile);
    if (result.ok && found !== undefined) {
      const seconds = Math.round((Date.now() - started) / 1000);
      return {
        tool: 'jetstream',
        provider,
        path: found,
        source: 'apt',
        note: `installed with apt-get in ${seconds} s`,
      };
    }
    if (!result.ok) log(`jetstream: ${result.reason}; trying a Go build instead`);
  }
  return provideGoTool('jetstream', provider, NATS_SERVER_TOOL, log, 'nats-server (JetStream)');
}
