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

/** Stand-in images of the third-party servers, all FROM the node base (Debian bookworm). */
export interface StandIns {
  mongo: string;
  nats: string;
  redis: string;
  stripe: string;
  ingress: string;
}

export async function buildStandIns(base: string, toolsBin: string, workDir: string, log: Log): Promise<StandIns> {
  const names: StandIns = {
    mongo: 'localhost/ticketing-test/mongo-ferretdb',
    nats: 'localhost/ticketing-test/nats-streaming',
    redis: 'localhost/ticketing-test/redis',
    stripe: 'localhost/ticketing-test/stripe-mock',
    ingress: 'localhost/ticketing-test/ingress-nginx',
  };
  const copyBinary = (name: string, binary: string, containerfile: string): BuildSpec => {
    const context = mkdtempSync(path.join(workDir, `${name}-`));
    const source = path.join(toolsBin, binary);
    if (!existsSync(source)) throw new Error(`${source} is missing: run \`npm run tools\` first`);
    copyFileSync(source, path.join(context, binary));
    writeFileSync(path.join(context, 'Containerfile'), containerfile);
    return { tag: '', dockerfile: path.join(context, 'Containerfile'), context };
  };
  // stripe-mock keeps no state, so no PaymentIntent it answers ever succeeds: as in the tests, Stripe's
  // test mode (common/src/testing/stripe-test-mode.ts, compiled) runs in front of it, on the port
  // payments is given, with stripe-mock behind it on loopback.
  const stripeStandIn = (): BuildSpec => {
    const spec = copyBinary(
      'stripe',
      'stripe-mock',
      `FROM ${base}\nCOPY stripe-mock /usr/local/bin/stripe-mock\nCOPY stripe-test-mode.js front.js entrypoint.sh /stripe/\nUSER 1000:1000\nENTRYPOINT ["/bin/sh", "/stripe/entrypoint.sh"]\n`,
    );
    const front = path.join(toolsBin, '..', '..', 'common', 'dist', 'testing', 'stripe-test-mode.js');
    if (!existsSync(front)) throw new Error(`${front} is missing: run \`npm run build -w common\` first`);
    copyFileSync(front, path.join(spec.context, 'stripe-test-mode.js'));
    writeFileSync(
      path.join(spec.context, 'front.js'),
      "require('./stripe-test-mode.js').startStripeTestMode('http://127.0.0.1:12112', 12111, '0.0.0.0');\n",
    );
    writeFileSync(
      path.join(spec.context, 'entrypoint.sh'),
      '#!/bin/sh\n/usr/local/bin/stripe-mock -http-addr 127.0.0.1:12112 -https-addr 127.0.0.1:0 &\nexec node /stripe/front.js\n',
    );
    return spec;
  };
  const specs: Array<[keyof StandIns, BuildSpec]> = [
    [
      'mongo',
      // FerretDB (the MongoDB wire protocol on SQLite) stands in for mongod: the StatefulSet's mongod
      // arguments do not apply to it, so its command is fixed here.
      copyBinary(
        'mongo',
        'ferretdb',
        `FROM ${base}\nCOPY ferretdb /usr/local/bin/ferretdb\nUSER 999:999\nENTRYPOINT ["/usr/local/bin/ferretdb", "-listen", "0.0.0.0:27017", "-dir", "/data/db", "-log-level", "warn"]\n`,
      ),
    ],
    [
      'nats',
      // As the official image: the server is the entrypoint, the StatefulSet's args are its flags.
      copyBinary(
        'nats',
        'nats-streaming-server',
        `FROM ${base}\nCOPY nats-streaming-server /nats-streaming-server\nENTRYPOINT ["/nats-streaming-server"]\n`,
      ),
    ],
    ['stripe', stripeStandIn()],
  ];
  // redis-server from Debian. The official image builds Redis with protected mode off (it listens on
  // every interface without a password inside the pod network); the entrypoint does the same here.
  const redisContext = mkdtempSync(path.join(workDir, 'redis-'));
  writeFileSync(
    path.join(redisContext, 'entrypoint.sh'),
    '#!/bin/sh\nif [ "$1" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi\nexec "$@"\n',
  );
  writeFileSync(
    path.join(redisContext, 'Containerfile'),
    `FROM ${base}\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*\n` +
      'COPY --chmod=755 entrypoint.sh /usr/local/bin/entrypoint.sh\nENTRYPOINT ["/usr/local/bin/entrypoint.sh"]\nCMD ["redis-server"]\n',
  );
  specs.push(['redis', { tag: '', dockerfile: path.join(redisContext, 'Containerfile'), context: redisContext }]);
  // nginx from Debian: what ingress-nginx is made of; its configuration is written from ingress.yaml
  // at run time and mounted.
  const nginxContext = mkdtempSync(path.join(workDir, 'nginx-'));
  writeFileSync(
    path.join(nginxContext, 'Containerfile'),
    `FROM ${base}\nRUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*\n` +
      'CMD ["nginx", "-g", "daemon off;"]\n',
  );
  specs.push(['ingress', { tag: '', dockerfile: path.join(nginxContext, 'Containerfile'), context: nginxContext }]);

  for (const [key, spec] of specs) {
    const tag = names[key];
    // Keyed by base and binary: a stand-in is rebuilt when either changes (a label holds the key).
    const key2 = `${(await podmanOk(['image', 'inspect', '--format', '{{.Id}}', base])).trim()}:${fingerprint(spec.context)}`;
    if (await imageExists(tag)) {
      const have = (await podmanOk(['image', 'inspect', '--format', '{{index .Labels "ticketing.key"}}', tag])).trim();
      if (have === key2) continue;
    }
    log(`building stand-in ${tag}`);
    await buildImage({ ...spec, tag, extra: ['--label', `ticketing.key=${key2}`] }, log);
  }
  return names;
}

function fingerprint(dir: string): string {
  const out = execFileSync('sh', ['-c', 'find . -type f | sort | xargs sha256sum | sha256sum'], {
    cwd: dir,
    encoding: 'utf8',
  });
  return out.slice(0, 16);
}
