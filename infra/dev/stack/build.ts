import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../lib/infra';
import { delay, describeExit, findOnPath, spawnManaged } from '../lib/infra-process';
import { isAlive, readPid } from './data-dir';
import { indent } from './text';
import type { Log, ServiceName } from './types';

/**
 * Builds what is stale: common when its dist is older than its sources, then each stale service (two
 * at a time: the machine has two cores). A lock shared by every process of this checkout keeps two
 * callers (two e2e test files starting at once, `npm start` during a test run) from writing the same
 * dist/ at the same time. Returns true when something was built.
 */
export async function buildStale(services: readonly ServiceName[], log: Log): Promise<boolean> {
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
  const build = spawnManaged(`build ${workspace}`, command, argv, { cwd: root, env: process.env });
  const info = await build.exited;
  if (info.code !== 0) {
    throw new Error(`npm run build -w ${workspace} ${describeExit(info)}:\n${indent(build.output())}`);
  }
}

/** npm as the caller ran it (npm_execpath under `npm start` / `npm test`), else from PATH. */
export function npmCommand(args: string[]): [string, string[]] {
  const execPath = process.env['npm_execpath'];
  if (execPath !== undefined && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath, ...args]];
  return [findOnPath('npm') ?? 'npm', args];
}

export async function acquireBuildLock(root: string, log: Log): Promise<() => void> {
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
    const age = Date.now() - (mtimeOf(lockDir) ?? Date.now());
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

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
