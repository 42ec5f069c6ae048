import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, toolsBinDir } from './infra-paths';
import {
  describeExit,
  findOnPath,
  formatTail,
  isExecutableFile,
  removeTempDir,
  spawnManaged,
  trackTempDir,
} from './infra-process';
import { EXTERNAL_SERVER_ENV, MissingTool, type Log, type ToolName, type ToolStatus } from './infra-tool-names';

/**
 * The tools the installer builds with Go: their pinned versions (FerretDB from infra/dev/ferretdb,
 * nats-streaming-server, stripe-mock, nats-server), and the build itself, into .tools/bin with a
 * stamp next to each binary so that a second run installs nothing and a version bump rebuilds.
 */

// Pinned versions. Bump deliberately: the stamp next to each binary makes the next run rebuild.
const NATS_STREAMING = { module: 'github.com/nats-io/nats-streaming-server', version: 'v0.25.6' };
const STRIPE_MOCK = { module: 'github.com/stripe/stripe-mock', version: 'v0.203.0' };
// nats-server with JetStream: Debian bookworm's package when apt can install it, else this build.
const NATS_SERVER = { module: 'github.com/nats-io/nats-server/v2', version: 'v2.9.10' };

function findGo(): string | undefined {
  // The official tarball installs to /usr/local/go, which non-login shells often lack on PATH.
  return findOnPath('go') ?? ['/usr/local/go/bin/go'].find(isExecutableFile);
}

interface GoTool {
  binary: string;
  label: string;
  /** Identifies the wanted build; a binary whose stamp differs is rebuilt. */
  stamp(): string;
  /** Builds into `outDir`, which must then contain `binary`. */
  build(outDir: string, extraFlags: string[]): { args: string[]; cwd: string };
}

export const FERRETDB: GoTool = {
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

export const NATS_TOOL = goInstallTool('nats-streaming-server', NATS_STREAMING);
export const STRIPE_TOOL = goInstallTool('stripe-mock', STRIPE_MOCK);
export const NATS_SERVER_TOOL = goInstallTool('nats-server', NATS_SERVER);

export async function provideGoTool(
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
