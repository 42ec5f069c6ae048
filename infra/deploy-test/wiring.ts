/**
 * The cluster's wiring on podman: the StatefulSets' stand-ins, a container per Deployment with the
 * environment its manifest declares, their probes, the purchase flow through the ingress, and
 * SIGTERM within the grace period.
 */
import { randomBytes } from 'node:crypto';
import { mongoPing } from '@ticketing/devinfra';
import type { AppImage } from './app-images';
import { aliases, containerIp, logsOf, securityArgs, startContainer, waitForProbe } from './containers';
import { HttpsClient, purchaseFlow } from './flow';
import type { StandIns } from './stand-ins';
import type { Ingress } from './ingress';
import { resolveEnv, type Manifests, type Workload } from './manifests';
import { runId } from './context';
import { podman, podmanOk } from './podman';
import { check, fail, log, record } from './report';

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

export function standInFor(image: string, s: StandIns): string | undefined {
  const repoName = image.split(':')[0] ?? '';
  if (repoName === 'mongo') return s.mongo;
  if (repoName === 'nats-streaming') return s.nats;
  if (repoName === 'redis') return s.redis;
  return undefined;
}

export async function startInfrastructure(m: Manifests, s: StandIns): Promise<void> {
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

export type Running = Map<string, { container: string; ip: string; app: AppImage }>;

/** Starts a container per Deployment; waitForServices() then checks them. */
export async function startServices(m: Manifests, apps: AppImage[]): Promise<Running> {
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

export async function waitForServices(running: Running): Promise<void> {
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

export async function checkShutdown(running: Map<string, { container: string; app: AppImage }>): Promise<void> {
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

/** The web client at /, the purchase flow through the ingress, and the order's expiration job in Redis. */
export async function checkPurchaseFlow(m: Manifests, s: StandIns, running: Running, ingress: Ingress): Promise<void> {
  const target = { address: ingress.ip, host: ingress.host, ca: ingress.ca };
  if (running.has('client')) {
    await check('the ingress serves the web client at /', async () => {
      const res = await new HttpsClient(target).request<string>('GET', '/');
      if (res.status !== 200) fail(`GET / answered ${res.status}`);
      return 'GET / answered 200';
    });
  }
  let flow: Awaited<ReturnType<typeof purchaseFlow>> | undefined;
  await check('purchase flow through the ingress', async () => {
    const steps: string[] = [];
    flow = await purchaseFlow(target, (step) => {
      log(`  flow: ${step.name} (${step.detail})`);
      steps.push(step.name);
    });
    return `${steps.length} steps, order ${flow.orderId} complete`;
  });
  if (running.has('client') && flow !== undefined) {
    const { buyer, ticketTitle } = flow;
    // The page is rendered by the client's server, which calls the API with the buyer's cookie
    // through the in-cluster name of the ingress controller: what GET / signed out does not reach.
    await check('the web client shows the signed-in buyer their orders (server-side, with the session)', async () => {
      const res = await buyer.request<string>('GET', '/orders', undefined, 'text/html');
      if (res.status !== 200) fail(`GET /orders answered ${res.status}`);
      const html = String(res.body);
      const missing = [buyer.email, ticketTitle].filter((text) => !html.includes(text));
      if (missing.length > 0) fail(`the page lacks ${missing.join(', ')}: ${html.slice(0, 300)}`);
      return `GET /orders answered 200 with ${buyer.email} and "${ticketTitle}"`;
    });
  }
  const redis = m.workloads.find((w) => standInFor(w.container.image, s) === s.redis);
  if (redis !== undefined) {
    await check('expiration scheduled the order in Redis', async () => {
      const keys = await podmanOk(['exec', `${runId}-${redis.name}`, 'redis-cli', '--scan', '--pattern', '*']);
      const count = keys.trim().split('\n').filter(Boolean).length;
      if (count === 0) fail('Redis holds no key');
      return `${count} keys`;
    });
  }
}
