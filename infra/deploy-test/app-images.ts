/**
 * The project's images: one per Deployment whose image is ticketing/<name>, plus the web client's.
 * Builds each target, records its size against a budget, and checks what the image holds and how it
 * runs (non-root user; production images without tests, typings or a lockfile).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repo } from './context';
import { buildImage, imageSize, imageUser } from './images';
import type { Manifests, Workload } from './manifests';
import { podmanOk } from './podman';
import { check, fail, images, log, record } from './report';

/**
 * Budgets for the image sizes (MB, as podman reports them, base image included). Measured on the
 * stand-in base (190 MB): production 215-235 MB (base + production node_modules + compiled code),
 * dev 369 MB (common's and the five services' dependencies, build tools included). The margins
 * catch a lockfile, dev dependencies or build output slipping into an image, not a new dependency.
 */
const SIZE_BUDGET_MB = { production: 260, dev: 450 };
/** The web client carries Next.js and React (its build output and server runtime): a budget of its own. */
const CLIENT_SIZE_BUDGET_MB = { production: 600, dev: 600 };

export interface AppImage {
  name: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  hasDev: boolean;
  workload: Workload | undefined;
  prodTag: string;
  devTag: string;
}

export function appImages(m: Manifests): AppImage[] {
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

/** The name the app's own package.json gives (the client's is scoped: @ticketing/client). */
function ownPackageName(app: string): string {
  const manifest = JSON.parse(readFileSync(path.join(repo, app, 'package.json'), 'utf8')) as { name?: unknown };
  return typeof manifest.name === 'string' ? manifest.name : app;
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
  const packageName = ownPackageName(app.name);
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
      if (name !== packageName) {
        fail(`/app/${app.name}/package.json names '${name ?? ''}', not '${packageName}' (a build cache mix-up?)`);
      }
      if (unwanted.length > 0) fail(`found ${unwanted.slice(0, 8).join(', ')}`);
      return 'none found';
    },
  );
}

async function checkDevImage(app: AppImage): Promise<void> {
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

/** Builds the production and dev targets of every image and checks each one that built. */
export async function buildImages(apps: AppImage[], extra: string[], baseMB: number): Promise<void> {
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
            extra,
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
  for (const i of images) {
    record(
      `${i.image}: size within budget`,
      i.sizeMB <= i.budgetMB,
      `${i.sizeMB} MB (budget ${i.budgetMB} MB, base ${baseMB} MB)`,
    );
  }
}

/** The apps whose production image built (the others are reported failed and not run). */
export function builtImages(apps: AppImage[]): AppImage[] {
  return apps.filter((a) => images.some((i) => i.image === a.prodTag));
}
