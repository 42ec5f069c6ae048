import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the tool installer works: the monorepo root (found from this file or the working directory)
 * and <repo>/.tools/bin, the git-ignored directory every binary we build or copy goes to.
 */

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

// common/src/testing/test-env.ts has the same check on purpose: @ticketing/common never depends on
// this dev-only package, and the installer runs before common is built.
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
