// Runs before `npm start` and `npm test` (see package.json), so a fresh clone needs no separate
// `npm ci`: when node_modules is missing or older than package-lock.json (a pull or a checkout
// changed the lockfile), it installs exactly what the lockfile pins. Plain Node with no dependency,
// because it runs precisely when the dependencies may not be there. When node_modules is current
// (as after the `npm ci` that .ci/run starts with) it costs two stat calls.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const lockfile = path.join(root, 'package-lock.json');
// npm writes this copy of the lockfile into node_modules at the end of every install.
const installed = path.join(root, 'node_modules', '.package-lock.json');

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** npm as the caller ran it (npm_execpath under `npm start` / `npm test`), else from PATH. */
function npmCommand(args) {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath, ...args]];
  return [process.platform === 'win32' ? 'npm.cmd' : 'npm', args];
}

const lockedAt = mtime(lockfile);
const installedAt = mtime(installed);
if (lockedAt !== undefined && (installedAt === undefined || installedAt < lockedAt)) {
  const why =
    installedAt === undefined ? 'node_modules is missing' : 'package-lock.json changed since the last install';
  process.stdout.write(`${why}: npm ci (once)...\n`);
  const [command, args] = npmCommand(['ci', '--no-audit', '--no-fund']);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error !== undefined) {
    process.stderr.write(`could not run npm ci: ${result.error.message}\n`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
}
