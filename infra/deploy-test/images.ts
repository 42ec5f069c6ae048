import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { podman, podmanOk, run, type Log } from './podman';

/**
 * The images `npm run test:deploy` builds: the node base (pulled, or a stand-in made here), the
 * project's images from the repository's Dockerfiles, and stand-ins for the third-party servers of
 * infra/k8s (Mongo, NATS Streaming, Redis) plus stripe-mock and an nginx that routes like the Ingress,
 * made from the binaries the test harness already has (.tools/bin) and from Debian packages.
 */

export const STAND_IN_LABEL = 'ticketing.stand-in';

/** The base image the Dockerfile names in `ARG NODE_IMAGE=...`. */
export function nodeImageOf(dockerfile: string): string {
  const match = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(dockerfile, 'utf8'));
  if (!match?.[1]) throw new Error(`${dockerfile} declares no ARG NODE_IMAGE=<image>`);
  return match[1];
}

/** `node:20.20.2-bookworm-slim` as podman stores it. */
function qualified(image: string): string {
  return image.includes('/') ? image : `docker.io/library/${image}`;
}

export async function imageExists(image: string): Promise<boolean> {
  return (await podman(['image', 'exists', image])).code === 0;
}

/**
 * Makes the node base available: already there, pulled, or (when the registry cannot be reached) a
 * stand-in: Debian bookworm (debootstrap minbase) with this machine's node and npm in /usr/local, as
 * the official image has them, and a `node` user with uid/gid 1000, imported under the same tag.
 */
export async function ensureNodeBase(image: string, workDir: string, log: Log): Promise<string> {
  const name = qualified(image);
  if (await imageExists(name)) {
    const label = (
      await podmanOk(['image', 'inspect', '--format', `{{index .Labels "${STAND_IN_LABEL}"}}`, name])
    ).trim();
    return label === '' || label === '<no value>' ? 'present' : `stand-in (${label}), made by an earlier run`;
  }
  const pull = await podman(['pull', '--quiet', name], { timeoutMs: 300_000 });
  if (pull.code === 0) return 'pulled';
  const reason = pull.stderr.trim().split('\n').pop() ?? '';
  log(`cannot pull ${name} (${reason}): making a stand-in (debootstrap bookworm + this machine's node)`);

  const { nodeBin, hostVersion, npmRoot } = hostNode(image, log);

  const dir = mkdtempSync(path.join(workDir, 'node-base-'));
  const rootfs = path.join(dir, 'rootfs');
  try {
    const started = Date.now();
    const boot = await run(
      'nice',
      ['-n', '10', 'debootstrap', '--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian'],
      {
        timeoutMs: 900_000,
      },
    );
    if (boot.code !== 0)
      throw new Error(`debootstrap failed:\n${boot.stdout.slice(-3000)}\n${boot.stderr.slice(-3000)}`);
    installNode(rootfs, nodeBin, npmRoot);
    const tarball = path.join(dir, 'rootfs.tar');
    execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', tarball, '.']);
    await podmanOk([
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_VERSION=${hostVersion}`,
      '--change',
      `LABEL ${STAND_IN_LABEL}=debootstrap-bookworm-node-${hostVersion}`,
      '--change',
      'CMD ["node"]',
      tarball,
      name,
    ]);
    return `stand-in made in ${Math.round((Date.now() - started) / 1000)} s (debootstrap bookworm + node ${hostVersion})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** This machine's node binary, its version and its npm: what the stand-in base carries. */
function hostNode(image: string, log: Log): { nodeBin: string; hostVersion: string; npmRoot: string } {
  const version = /^node:(\d+\.\d+\.\d+)-bookworm/.exec(image)?.[1];
  const nodeBin = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
  const hostVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  if (version !== undefined && hostVersion !== version) {
    log(
      `warning: this machine's node is ${hostVersion}, the Dockerfile's base has ${version}; the stand-in has ${hostVersion}`,
    );
  }
  const npmRoot = path.join(
    execFileSync(nodeBin, ['-p', 'process.execPath'], { encoding: 'utf8' }).trim(),
    '../../lib/node_modules/npm',
  );
  if (!existsSync(path.join(npmRoot, 'bin/npm-cli.js'))) throw new Error(`npm not found at ${npmRoot}`);

  return { nodeBin, hostVersion, npmRoot };
}

/** Slims a debootstrapped root as the slim image is, and puts node, npm and a `node` user (uid 1000) in it. */
function installNode(rootfs: string, nodeBin: string, npmRoot: string): void {
  // What the slim image leaves out too: package caches and lists, docs, man pages, locales.
  for (const sub of [
    'var/cache/apt',
    'var/lib/apt/lists',
    'usr/share/doc',
    'usr/share/man',
    'usr/share/info',
    'usr/share/locale',
  ]) {
    rmSync(path.join(rootfs, sub), { recursive: true, force: true });
  }
  mkdirSync(path.join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
  mkdirSync(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  mkdirSync(path.join(rootfs, 'usr/local/lib/node_modules'), { recursive: true });
  copyFileSync(nodeBin, path.join(rootfs, 'usr/local/bin/node'));
  execFileSync('cp', ['-a', npmRoot, path.join(rootfs, 'usr/local/lib/node_modules/npm')]);
  execFileSync('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm')]);
  execFileSync('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr/local/bin/npx')]);
  execFileSync('chroot', [
    rootfs,
    'sh',
    '-c',
    'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  ]);
}

/**
 * Arguments that let npm inside a build reach the registry when this machine's TLS is re-signed on
 * the way (npm's `cafile` is set): the CA file and a global npmrc naming it, mounted for RUN steps
 * only, so nothing of it lands in an image.
 */
export function npmCaMounts(workDir: string): string[] {
  let cafile = '';
  try {
    cafile = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
  } catch {
    // npm missing or broken: no CA to pass.
  }
  if (cafile === '' || cafile === 'null' || cafile === 'undefined' || !existsSync(cafile)) {
    const extra = process.env['NODE_EXTRA_CA_CERTS'];
    if (extra === undefined || !existsSync(extra)) return [];
    cafile = extra;
  }
  const npmrc = path.join(workDir, 'build-npmrc');
  writeFileSync(npmrc, 'cafile=/run/host-ca/ca.crt\n');
  return ['--volume', `${cafile}:/run/host-ca/ca.crt:ro`, '--volume', `${npmrc}:/usr/local/etc/npmrc:ro`];
}

export interface BuildSpec {
  tag: string;
  dockerfile: string;
  context: string;
  target?: string;
  buildArgs?: Record<string, string>;
  extra?: string[];
}

export interface Built {
  seconds: number;
  /** Steps podman's layer cache answered, of all steps. */
  cached: number;
  steps: number;
}

/** Builds one image. Builds run at nice 10 with the host's network. */
export async function buildImage(spec: BuildSpec, log: Log): Promise<Built> {
  const started = Date.now();
  const args = [
    'build',
    '--network',
    'host',
    '--file',
    spec.dockerfile,
    '--tag',
    spec.tag,
    ...(spec.target === undefined ? [] : ['--target', spec.target]),
    ...Object.entries(spec.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    ...(spec.extra ?? []),
    spec.context,
  ];
  const lines: string[] = [];
  let cached = 0;
  let steps = 0;
  let pendingStep: string | undefined;
  const result = await podman(args, {
    nice: true,
    timeoutMs: 1_200_000,
    onLine: (line) => {
      lines.push(line);
      if (/STEP \d+\/\d+: /.test(line)) {
        steps += 1;
        pendingStep = /: (RUN|FROM) /.test(line) ? line : undefined;
      } else if (line.startsWith('--> Using cache')) {
        cached += 1;
        pendingStep = undefined;
      } else if (pendingStep !== undefined) {
        // A RUN step that was not in the cache: worth a line, it is where the time goes.
        log(`  ${spec.tag} +${Math.round((Date.now() - started) / 1000)}s: ${pendingStep.slice(0, 120)}`);
        pendingStep = undefined;
      }
    },
  });
  if (result.code !== 0) {
    throw new Error(
      `building ${spec.tag} failed (exit ${String(result.code)}):\n${lines.slice(-40).join('\n')}\n${result.stderr.slice(-3000)}`,
    );
  }
  return { seconds: Math.round((Date.now() - started) / 100) / 10, cached, steps };
}

export async function imageSize(image: string): Promise<number> {
  return Number((await podmanOk(['image', 'inspect', '--format', '{{.Size}}', image])).trim());
}

export async function imageUser(image: string): Promise<string> {
  return (await podmanOk(['image', 'inspect', '--format', '{{.Config.User}}', image])).trim();
}
