/**
 * `npm run test:deploy`: builds every image of the repository and runs the production images wired as
 * infra/k8s wires them, on one podman network, then drives the purchase flow through an Ingress
 * stand-in. What it proves and what still needs a real cluster: docs/operations.md ("Testing the
 * deployment"). Writes .deploy-results.json (numPassed, numFailed, checks, images) for .ci/run and
 * ends with the line "deploy: N passed, M failed".
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mongoPing } from '../../common/src/testing/infra-probes';
import { HttpsClient, purchaseFlow } from './flow';
import {
  buildImage,
  buildStandIns,
  ensureNodeBase,
  imageSize,
  imageUser,
  nodeImageOf,
  npmCaMounts,
  type StandIns,
} from './images';
import { nginxConfig } from './ingress';
import {
  loadManifests,
  probePort,
  resolveEnv,
  servicesOf,
  type Manifests,
  type Probe,
  type Workload,
} from './manifests';
import { ensurePodman, podman, podmanOk } from './podman';

const repo = path.resolve(__dirname, '../..');
const resultsFile = path.join(repo, '.deploy-results.json');
const started = Date.now();
const runId = `tkd${process.pid}`;
const LABEL = 'ticketing.deploy-test';

/**
 * Budgets for the image sizes (MB, as podman reports them, base image included). Measured on the
 * stand-in base (190 MB): production 215-235 MB (base + production node_modules + compiled code),
 * dev 369 MB (common's and the five services' dependencies, build tools included). The margins
 * catch a lockfile, dev dependencies or build output slipping into an image, not a new dependency.
 */
const SIZE_BUDGET_MB = { production: 260, dev: 450 };
/** The web client carries Next.js and React (its build output and server runtime): a budget of its own. */
const CLIENT_SIZE_BUDGET_MB = { production: 600, dev: 600 };

/** Test values of the Secrets docs/operations.md tells an operator to create. */
const TEST_SECRETS: Record<string, Record<string, string>> = {
  'jwt-secret': { JWT_KEY: randomBytes(32).toString('hex') },
  'stripe-secret': { STRIPE_KEY: 'sk_test_deploytest' },
};
/**
 * What the test adds to a Deployment's environment, and why: payments talks to stripe-mock (the
 * variable its Deployment documents for that) instead of the real Stripe API.
 */
const TEST_ENV: Record<string, Record<string, string>> = {
  payments: { STRIPE_API_BASE: 'http://stripe-mock:12111' },
};

const INGRESS_CONTROLLER_ALIAS = 'ingress-nginx-controller.ingress-nginx.svc.cluster.local';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
const checks: Check[] = [];
const images: Array<{ image: string; target: string; sizeMB: number; budgetMB: number; buildSeconds: number }> = [];

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function record(name: string, ok: boolean, detail: string): boolean {
  checks.push({ name, ok, detail });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail === '' ? '' : `: ${detail}`}`);
  return ok;
}

async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
  try {
    return record(name, true, await fn());
  } catch (error) {
    return record(name, false, error instanceof Error ? error.message : String(error));
  }
}

function fail(message: string): never {
  throw new Error(message);
}

// ------------------------------------------------------------------------------------------------
// The project's images: one per Deployment whose image is ticketing/<name>.

interface AppImage {
  name: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  hasDev: boolean;
  workload: Workload | undefined;
  prodTag: string;
  devTag: string;
}

function appImages(m: Manifests): AppImage[] {
  const names = new Set<string>();
  for (const w of m.workloads) {
    const match = /^ticketing\/([\w-]+)$/.exec(w.container.image);
    if (match?.[1]) names.add(match[1]);
  }
  // A folder with a Dockerfile of its own (the web client) is built even before a Deployment runs it.
  for (const entry of ['client']) if (existsSync(path.join(repo, entry, 'Dockerfile'))) names.add(entry);
  return [...names].map((name): AppImage => {
    const own = path.join(repo, name, 'Dockerfile');
    const dockerfile = existsSync(own) ? own : path.join(repo, 'Dockerfile');
    return {
      name,
      dockerfile,
      buildArgs: existsSync(own) ? {} : { SERVICE: name },
      hasDev: /^FROM\s+\S+\s+AS\s+dev\s*$/im.test(readFileSync(dockerfile, 'utf8')),
      workload: m.workloads.find((w) => w.container.image === `ticketing/${name}`),
      prodTag: `localhost/ticketing/${name}:deploy-test`,
      devTag: `localhost/ticketing/${name}:deploy-test-dev`,
    };
  });
}

async function inContainer(image: string, script: string, extra: string[] = []): Promise<string> {
  return podmanOk(['run', '--rm', '--network', 'none', ...extra, '--entrypoint', 'sh', image, '-c', script]);
}

async function checkProductionImage(app: AppImage): Promise<void> {
  await check(`${app.name}: production image runs as a non-root user`, async () => {
    const user = await imageUser(app.prodTag);
    if (user === '' || /^(root|0)(:|$)/.test(user)) fail(`USER is '${user || 'root'}'`);
    const uid = (await inContainer(app.prodTag, 'id -u')).trim();
    if (uid === '0') fail(`USER ${user} is uid 0`);
    const wanted = app.workload?.container.securityContext?.runAsUser ?? app.workload?.podSecurity.runAsUser;
    if (wanted !== undefined && String(wanted) !== uid) fail(`uid ${uid}, the Deployment's runAsUser is ${wanted}`);
    return `USER ${user} (uid ${uid})`;
  });
  if (app.buildArgs['SERVICE'] === undefined) return;
  await check(
    `${app.name}: production image holds ${app.name} only, without tests, .d.ts, source maps, lockfile`,
    async () => {
      const out = await inContainer(
        app.prodTag,
        `node -p 'require("/app/${app.name}/package.json").name';` +
          ' find /app -path /app/node_modules -prune -o \\( -name "*.d.ts" -o -name "*.map" -o -name "*.test.js" -o -name package-lock.json -o -name __tests__ \\) -print;' +
          ' ls -d /app/common/dist/testing /app/node_modules/.package-lock.json /app/node_modules/jest /app/node_modules/typescript 2>/dev/null; true',
      );
      const [name, ...unwanted] = out.trim().split('\n');
      if (name !== app.name) fail(`/app/${app.name}/package.json names '${name ?? ''}' (a build cache mix-up?)`);
      if (unwanted.length > 0) fail(`found ${unwanted.slice(0, 8).join(', ')}`);
      return 'none found';
    },
  );
}

async function checkDevImage(app: AppImage): Promise<void> {
  if (app.buildArgs['SERVICE'] === undefined) return;
  await check(
    `${app.name}: dev image runs with NODE_ENV=development, service folder writable by its user`,
    async () => {
      const out = await inContainer(
        app.devTag,
        'echo "$NODE_ENV $(id -un) $(pwd)"; stat -c "%U %n" . src; touch src/.sync-probe && rm src/.sync-probe && echo writable',
      );
      const lines = out.trim().split('\n');
      const [nodeEnv, user, cwd] = (lines[0] ?? '').split(' ');
      if (nodeEnv !== 'development') fail(`NODE_ENV=${nodeEnv ?? ''}`);
      if (cwd !== `/app/${app.name}`) fail(`WORKDIR ${cwd ?? ''}`);
      const owners = lines.slice(1, 3).map((l) => l.split(' ')[0]);
      if (owners.some((o) => o !== user)) fail(`owners ${lines.slice(1, 3).join(', ')}, user ${user ?? ''}`);
      if (lines[3] !== 'writable') fail(out);
      return `user ${user ?? ''} owns ${cwd ?? ''} and src/`;
    },
  );
}

// ------------------------------------------------------------------------------------------------
// Running the cluster's wiring.

const network = `${runId}-net`;
const containers: string[] = [];

async function containerIp(name: string): Promise<string> {
  const ip = (
    await podmanOk(['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])
  ).trim();
  if (ip === '') fail(`${name} has no address on ${network}`);
  return ip;
}

async function startContainer(name: string, args: string[]): Promise<string> {
  const full = `${runId}-${name}`;
  containers.push(full);
  await podmanOk(['run', '--detach', '--name', full, '--label', `${LABEL}=${runId}`, '--network', network, ...args]);
  return full;
}

function securityArgs(w: Workload, opts: { imageUser: boolean; readOnly: boolean }): string[] {
  const c = { ...w.podSecurity, ...w.container.securityContext };
  const args: string[] = [];
  if (!opts.imageUser && c.runAsUser !== undefined)
    args.push('--user', `${c.runAsUser}:${c.runAsGroup ?? c.runAsUser}`);
  if (c.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (c.capabilities?.drop?.includes('ALL')) args.push('--cap-drop', 'ALL');
  // As Kubernetes' readOnlyRootFilesystem: no writable /tmp either (podman adds tmpfs mounts by default).
  if (opts.readOnly || c.readOnlyRootFilesystem === true) args.push('--read-only', '--read-only-tmpfs=false');
  for (const mount of w.container.volumeMounts ?? []) args.push('--tmpfs', `${mount.mountPath}:rw,mode=1777`);
  return args;
}

function aliases(m: Manifests, w: Workload): string[] {
  return servicesOf(m, w).flatMap((s) => ['--network-alias', s.name]);
}

function logsOf(container: string): string {
  try {
    return execFileSync('podman', ['logs', '--tail', '30', container], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CONTAINERS_CONF: path.join(repo, '.tools/deploy-test/containers.conf') },
    });
  } catch (error) {
    return String(error);
  }
}

async function httpStatusOf(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status;
}

/** Polls the probe the way the kubelet would until it passes or the budget is spent; returns ms taken. */
async function waitForProbe(
  container: string,
  ip: string,
  w: Workload,
  probe: Probe,
  budgetMs: number,
): Promise<number> {
  const start = Date.now();
  let last = '';
  for (;;) {
    try {
      if (probe.httpGet) {
        const status = await httpStatusOf(
          `http://${ip}:${probePort(w.container, probe.httpGet.port)}${probe.httpGet.path}`,
        );
        if (status >= 200 && status < 400) return Date.now() - start;
        last = `HTTP ${status}`;
      } else if (probe.exec) {
        const result = await podman(['exec', container, ...probe.exec.command]);
        if (result.code === 0) return Date.now() - start;
        last = `exit ${String(result.code)} ${result.stderr.trim()}`;
      } else fail(`probe of ${w.name} is neither httpGet nor exec`);
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    const state = (await podman(['inspect', '--format', '{{.State.Status}}', container])).stdout.trim();
    if (state !== 'running') fail(`${container} is ${state}; its log:\n${logsOf(container)}`);
    if (Date.now() - start > budgetMs)
      fail(`not ready within ${budgetMs} ms (last: ${last}); its log:\n${logsOf(container)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function standInFor(image: string, s: StandIns): string | undefined {
  const repoName = image.split(':')[0] ?? '';
  if (repoName === 'mongo') return s.mongo;
  if (repoName === 'nats-streaming') return s.nats;
  if (repoName === 'redis') return s.redis;
  return undefined;
}

async function startInfrastructure(m: Manifests, s: StandIns): Promise<void> {
  const sets = m.workloads.filter((w) => w.kind === 'StatefulSet');
  const started: Array<{ w: Workload; name: string; image: string }> = [];
  for (const w of sets) {
    const image = standInFor(w.container.image, s) ?? fail(`no stand-in for ${w.container.image} (${w.name})`);
    // The mongod arguments do not apply to FerretDB; the other stand-ins take the StatefulSet's args.
    const args = image === s.mongo ? [] : (w.container.args ?? []);
    const name = await startContainer(w.name, [
      ...aliases(m, w),
      ...securityArgs(w, { imageUser: false, readOnly: false }),
      image,
      ...args,
    ]);
    started.push({ w, name, image });
  }
  await startContainer('stripe-mock', ['--network-alias', 'stripe-mock', s.stripe]);
  for (const { w, name, image } of started) {
    await check(`${w.name}: stand-in ready (${image.replace('localhost/ticketing-test/', '')})`, async () => {
      const ip = await containerIp(name);
      if (image === s.mongo) {
        // The StatefulSet probes with mongosh, which FerretDB's image lacks: the wire protocol's ping instead.
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            await mongoPing(ip, 27017);
            return 'answers ping';
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      }
      const probe = w.container.readinessProbe ?? fail(`${w.name} has no readinessProbe`);
      return `${JSON.stringify(probe.httpGet?.path ?? probe.exec?.command)} passed after ${await waitForProbe(name, ip, w, probe, 60_000)} ms`;
    });
  }
}

type Running = Map<string, { container: string; ip: string; app: AppImage }>;

/** Starts a container per Deployment; waitForServices() then checks them. */
async function startServices(m: Manifests, apps: AppImage[]): Promise<Running> {
  const running: Running = new Map();
  for (const app of apps) {
    const w = app.workload;
    if (w === undefined) {
      log(`${app.name}: built, not run: no Deployment in infra/k8s runs ticketing/${app.name}`);
      continue;
    }
    const podName = `${w.name}-${randomBytes(3).toString('hex')}`;
    let env: Record<string, string>;
    try {
      env = { ...resolveEnv(w.container, podName, TEST_SECRETS), ...(TEST_ENV[app.name] ?? {}) };
    } catch (error) {
      record(`${app.name}: environment from ${w.name}`, false, String(error));
      continue;
    }
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    const container = await startContainer(w.name, [
      '--hostname',
      podName,
      ...aliases(m, w),
      // The image's own user, not the Deployment's runAsUser: the check below compares the two.
      ...securityArgs(w, { imageUser: true, readOnly: true }),
      ...envArgs,
      app.prodTag,
    ]);
    running.set(app.name, { container, ip: await containerIp(container), app });
  }
  return running;
}

async function waitForServices(running: Running): Promise<void> {
  for (const [name, { container, ip, app }] of running) {
    const w = app.workload!;
    const startup = w.container.startupProbe;
    const budget = startup ? (startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3) * 1000 : 120_000;
    await check(
      `${name}: ready with a read-only root filesystem (${w.container.readinessProbe?.httpGet?.path ?? '?'})`,
      async () => {
        const readiness = w.container.readinessProbe ?? fail('no readinessProbe');
        const ms = await waitForProbe(container, ip, w, readiness, budget);
        const liveness = w.container.livenessProbe;
        if (liveness?.httpGet) await waitForProbe(container, ip, w, liveness, 5000);
        const write = await podman(['exec', container, 'sh', '-c', 'touch /app/.probe || touch /tmp/.probe']);
        if (write.code === 0) fail('a file could be written: the root filesystem is not read-only');
        return `ready after ${(ms / 1000).toFixed(1)} s (budget ${budget / 1000} s); writes fail (${write.stderr.trim().split('\n')[0] ?? ''})`;
      },
    );
    await check(`${name}: process runs as a non-root user`, async () => {
      const uid = (await podmanOk(['exec', container, 'sh', '-c', 'id -u'])).trim();
      const wanted = w.container.securityContext?.runAsUser ?? w.podSecurity.runAsUser;
      if (uid === '0') fail('uid 0');
      if (wanted !== undefined && String(wanted) !== uid) fail(`uid ${uid}, the Deployment's runAsUser is ${wanted}`);
      return `uid ${uid}`;
    });
  }
}

async function startIngress(
  m: Manifests,
  s: StandIns,
  work: string,
): Promise<{ ip: string; host: string; ca: string }> {
  const tls = path.join(work, 'tls');
  mkdirSync(tls, { recursive: true });
  const host = m.ingress[0]?.host ?? fail('infra/k8s has no Ingress path');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-keyout',
      path.join(tls, 'tls.key'),
      '-out',
      path.join(tls, 'tls.crt'),
    ],
    { stdio: 'ignore' },
  );
  const conf = path.join(work, 'nginx.conf');
  writeFileSync(conf, nginxConfig(m.ingress, m.useRegex));
  const name = await startContainer('ingress', [
    // The in-cluster name of ingress-nginx's controller, which the web client's server-side
    // rendering calls (its Deployment's API_URL).
    '--network-alias',
    INGRESS_CONTROLLER_ALIAS,
    '--volume',
    `${conf}:/etc/nginx/nginx.conf:ro`,
    '--volume',
    `${tls}:/etc/nginx/tls:ro`,
    s.ingress,
  ]);
  const ip = await containerIp(name);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await httpStatusOf(`http://${ip}/`);
      break;
    } catch (error) {
      if (Date.now() > deadline) fail(`the ingress does not answer: ${String(error)}\n${logsOf(name)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { ip, host, ca: readFileSync(path.join(tls, 'tls.crt'), 'utf8') };
}

async function checkShutdown(running: Map<string, { container: string; app: AppImage }>): Promise<void> {
  for (const [name, { container, app }] of running) {
    const grace = app.workload!.graceSeconds;
    await check(`${name}: exits 0 on SIGTERM within the grace period (${grace} s)`, async () => {
      const start = Date.now();
      await podmanOk(['stop', '--time', String(grace), container]);
      const seconds = (Date.now() - start) / 1000;
      const code = (await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', container])).trim();
      if (code !== '0') fail(`exit code ${code} after ${seconds.toFixed(1)} s; its log:\n${logsOf(container)}`);
      if (seconds >= grace) fail(`took ${seconds.toFixed(1)} s`);
      return `exit 0 after ${seconds.toFixed(1)} s`;
    });
  }
}

async function cleanUp(): Promise<void> {
  for (const c of containers.reverse()) await podman(['rm', '--force', '--time', '0', c]);
  await podman(['network', 'rm', '--force', network]);
}

/** Containers and networks of earlier runs whose process is gone (killed before it cleaned up). */
async function removeLeftovers(): Promise<void> {
  const out = await podman([
    'ps',
    '--all',
    '--filter',
    `label=${LABEL}`,
    '--format',
    `{{.Names}} {{index .Labels "${LABEL}"}}`,
  ]);
  for (const line of out.stdout.trim().split('\n').filter(Boolean)) {
    const [name = '', owner = ''] = line.split(' ');
    const pid = Number(owner.replace(/^tkd/, ''));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // Gone.
    }
    if (!alive) {
      await podman(['rm', '--force', '--time', '0', name]);
      await podman(['network', 'rm', '--force', `${owner}-net`]);
    }
  }
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  rmSync(resultsFile, { force: true });
  const confDir = path.join(repo, '.tools', 'deploy-test');
  const work = path.join(os.tmpdir(), `ticketing-deploy-${runId}`);
  mkdirSync(work, { recursive: true });
  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round((Date.now() - t) / 1000);
    }
  };
  try {
    const podmanNote = await phase('podman', () => ensurePodman(confDir, log));
    record('podman available (runc, netavark)', true, podmanNote);
    await removeLeftovers();

    const manifests = loadManifests(path.join(repo, 'infra/k8s'));
    const apps = appImages(manifests);
    const base = nodeImageOf(path.join(repo, 'Dockerfile'));
    const baseNote = await phase('base image', () => ensureNodeBase(base, work, log));
    record(`base image ${base}`, true, baseNote);
    const qualifiedBase = base.includes('/') ? base : `docker.io/library/${base}`;
    const baseMB = Math.round((await imageSize(qualifiedBase)) / 1e6);

    const ca = npmCaMounts(work);
    await phase('builds', async () => {
      for (const app of apps) {
        const targets: Array<[string, string | undefined, string]> = [['production', undefined, app.prodTag]];
        if (app.hasDev) targets.push(['dev', 'dev', app.devTag]);
        for (const [kind, target, tag] of targets) {
          const ok = await check(`${app.name}: ${kind} image builds`, async () => {
            const { seconds, cached, steps } = await buildImage(
              {
                tag,
                dockerfile: app.dockerfile,
                context: repo,
                buildArgs: app.buildArgs,
                extra: ca,
                ...(target ? { target } : {}),
              },
              log,
            );
            const sizeMB = Math.round((await imageSize(tag)) / 1e6);
            const budgets = app.name === 'client' ? CLIENT_SIZE_BUDGET_MB : SIZE_BUDGET_MB;
            const budgetMB = kind === 'production' ? budgets.production : budgets.dev;
            images.push({ image: tag, target: kind, sizeMB, budgetMB, buildSeconds: seconds });
            return `${seconds} s (${cached} of ${steps} steps from the layer cache)`;
          });
          if (!ok) continue;
          if (kind === 'production') await checkProductionImage(app);
          else await checkDevImage(app);
        }
      }
    });
    for (const i of images) {
      record(
        `${i.image}: size within budget`,
        i.sizeMB <= i.budgetMB,
        `${i.sizeMB} MB (budget ${i.budgetMB} MB, base ${baseMB} MB)`,
      );
    }

    const standIns = await phase('stand-ins', () =>
      buildStandIns(qualifiedBase, path.join(repo, '.tools/bin'), work, log),
    );
    const runnable = apps.filter((a) => images.some((i) => i.image === a.prodTag));
    await podmanOk(['network', 'create', '--label', `${LABEL}=${runId}`, network]);
    try {
      await phase('infrastructure', () => startInfrastructure(manifests, standIns));
      const running = await phase('services', () => startServices(manifests, runnable));
      // The ingress resolves its backends' names when it starts: after the services' containers exist,
      // before they are ready (a service may call through the ingress while it starts).
      const ingress = await startIngress(manifests, standIns, work);
      await phase('readiness', () => waitForServices(running));
      await phase('purchase flow', async () => {
        const client = running.get('client');
        if (client !== undefined) {
          await check('the ingress serves the web client at /', async () => {
            const res = await new HttpsClient({
              address: ingress.ip,
              host: ingress.host,
              ca: ingress.ca,
            }).request<string>('GET', '/');
            if (res.status !== 200) fail(`GET / answered ${res.status}`);
            return 'GET / answered 200';
          });
        }
        await check('purchase flow through the ingress', async () => {
          const steps: string[] = [];
          const { orderId } = await purchaseFlow(
            { address: ingress.ip, host: ingress.host, ca: ingress.ca },
            (step) => {
              log(`  flow: ${step.name} (${step.detail})`);
              steps.push(step.name);
            },
          );
          return `${steps.length} steps, order ${orderId} complete`;
        });
        const redis = manifests.workloads.find((w) => standInFor(w.container.image, standIns) === standIns.redis);
        if (redis !== undefined) {
          await check('expiration scheduled the order in Redis', async () => {
            const keys = await podmanOk(['exec', `${runId}-${redis.name}`, 'redis-cli', '--scan', '--pattern', '*']);
            const count = keys.trim().split('\n').filter(Boolean).length;
            if (count === 0) fail('Redis holds no key');
            return `${count} keys`;
          });
        }
      });
      await phase('shutdown', () => checkShutdown(running));
    } finally {
      await cleanUp();
    }
  } catch (error) {
    record(
      'test:deploy ran to the end',
      false,
      error instanceof Error ? (error.stack ?? error.message) : String(error),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const numFailed = checks.filter((c) => !c.ok).length;
  const numPassed = checks.length - numFailed;
  const durationSeconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(
    resultsFile,
    `${JSON.stringify({ numPassed, numFailed, durationSeconds, timings, images, checks }, null, 2)}\n`,
  );
  log('\nimage sizes:');
  for (const i of images)
    log(
      `  ${i.image.padEnd(48)} ${String(i.sizeMB).padStart(5)} MB (budget ${i.budgetMB} MB, built in ${i.buildSeconds} s)`,
    );
  log(
    `phases (s): ${Object.entries(timings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; total ${durationSeconds} s`,
  );
  log(`results: ${path.relative(process.cwd(), resultsFile)}`);
  log(`deploy: ${numPassed} passed, ${numFailed} failed`);
  process.exitCode = numFailed === 0 ? 0 : 1;
}

void main();
