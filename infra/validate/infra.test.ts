// Offline checks of the deployment files (no Docker, no cluster): the Kubernetes manifests against
// the Kubernetes schemas and skaffold.yaml against its schema (both through validate-manifests.sh and
// its Python venv), then the cross-file rules no schema can see: every name one file uses is defined
// in another, images are pinned, the skaffold sync lands where the dev image runs the code, and the
// production image runs `node dist/main.js` as a non-root user.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { authConfigSpec } from '../../auth/src/config';
import { expirationConfigSpec } from '../../expiration/src/config';
import { ordersConfigSpec } from '../../orders/src/config';
import { paymentsConfigSpec } from '../../payments/src/config';
import { ticketsConfigSpec } from '../../tickets/src/config';

// js-yaml (4.x, hoisted at the root of node_modules) ships no type declarations; this is the part of
// its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as {
  load(text: string): unknown;
  loadAll(text: string): unknown[];
  dump(value: unknown): string;
};

const repoRoot = path.resolve(__dirname, '../..');
const k8sDir = path.join(repoRoot, 'infra/k8s');
const validateScript = path.join(__dirname, 'validate-manifests.sh');
const venvPython = path.join(repoRoot, '.tools/venv/bin/python');
const SERVICES = ['auth', 'tickets', 'orders', 'expiration', 'payments'] as const;
// The web client: its own image (client/Dockerfile), Deployment and Service, no bus or database.
const CLIENT = 'client';
const IMAGES = [...SERVICES, CLIENT];
const MONGO_SERVICES = ['auth', 'tickets', 'orders', 'payments'] as const;
const isService = (name: string): name is (typeof SERVICES)[number] => (SERVICES as readonly string[]).includes(name);
/** The variables each service reads (its config spec): a Deployment sets these and no others. */
const CONFIG_SPECS: Record<
  (typeof SERVICES)[number],
  Record<string, { parse(raw: string | undefined, name: string): object }>
> = {
  auth: authConfigSpec,
  tickets: ticketsConfigSpec,
  orders: ordersConfigSpec,
  expiration: expirationConfigSpec,
  payments: paymentsConfigSpec,
};
// Secrets are created by hand (docs/operations.md), never committed: the keys each one must hold.
const DOCUMENTED_SECRETS: Record<string, string[]> = {
  'jwt-secret': ['JWT_KEY'],
  'stripe-secret': ['STRIPE_KEY'],
};

function skaffoldSchemaPath(): string {
  // Tests run from a clone with shared/ beside it; the copy next to this file is the fallback.
  const shared = path.resolve(repoRoot, '../shared/schemas/skaffold-v4beta13.json');
  return fs.existsSync(shared) ? shared : path.join(__dirname, 'skaffold-v4beta13.json');
}

// ------------------------------------------------------------------------------------------------
// Minimal typed views of the YAML documents (only the fields these checks read).

interface Metadata {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  spec?: unknown;
  file: string;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}
interface Probe {
  httpGet?: { path?: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean };
}
interface PodTemplate {
  metadata: Metadata | { labels?: Record<string, string> };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  };
}
interface WorkloadSpec {
  replicas?: number;
  serviceName?: string;
  selector: { matchLabels?: Record<string, string> };
  template: PodTemplate;
  volumeClaimTemplates?: { metadata: { name: string } }[];
}
interface ServiceSpec {
  clusterIP?: string;
  selector?: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}
interface IngressSpec {
  ingressClassName?: string;
  rules: {
    host?: string;
    http: {
      paths: {
        path: string;
        pathType: string;
        backend: { service: { name: string; port: { number?: number; name?: string } } };
      }[];
    };
  }[];
}

/** The objects of one YAML file; `file` is its path relative to infra/. */
function loadFile(file: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8'))) {
    if (doc === null || doc === undefined) continue;
    const object = doc as Omit<K8sObject, 'file'>;
    objects.push({ ...object, file: path.relative(path.join(repoRoot, 'infra'), file) });
  }
  return objects;
}

function loadManifests(): K8sObject[] {
  return fs
    .readdirSync(k8sDir)
    .sort()
    .filter((file) => /\.ya?ml$/.test(file))
    .flatMap((file) => loadFile(path.join(k8sDir, file)));
}

// ------------------------------------------------------------------------------------------------
// The kustomize overlay infra/k8s-jetstream, rendered here as `kustomize build` would (resources,
// then strategic-merge patches), so that no kustomize or kubectl is needed to check it.

interface Kustomization {
  apiVersion: string;
  kind: string;
  resources: string[];
  patches?: { path?: string; patch?: string; target?: unknown }[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNamedList = (value: unknown): value is Record<string, unknown>[] =>
  Array.isArray(value) && value.length > 0 && value.every((item) => isObject(item) && typeof item['name'] === 'string');

/**
 * A strategic merge patch as far as these patches need it: maps merge key by key; lists of objects
 * with a `name` (containers, env, ports, volumes) merge item by item on it, the patch's items first
 * as kustomize orders them; any other value replaces. `where` names the place in errors.
 */
function strategicMerge(base: unknown, patch: unknown, where: string, added: string[]): unknown {
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      out[key] = key in base ? strategicMerge(base[key], value, `${where}.${key}`, added) : value;
    }
    return out;
  }
  if (isNamedList(base) && isNamedList(patch)) {
    const merged = patch.map((item) => {
      const old = base.find((b) => b['name'] === item['name']);
      if (old === undefined) added.push(`${where}[${String(item['name'])}]`);
      return old === undefined ? item : strategicMerge(old, item, `${where}[${String(item['name'])}]`, added);
    });
    return [...merged, ...base.filter((b) => !patch.some((item) => item['name'] === b['name']))];
  }
  return patch;
}

/** An object without the file it was read from, as kubectl would see it. */
function bare(o: K8sObject): Omit<K8sObject, 'file'> {
  const copy: Partial<K8sObject> = { ...o };
  delete copy.file;
  return copy as Omit<K8sObject, 'file'>;
}

interface RenderedOverlay {
  objects: K8sObject[];
  /** Each patch file and the list items it added (not merged into an existing one), by path. */
  patched: { patch: string; target: string; added: string[] }[];
}

/** `kustomize build dir`: throws when a resource is missing or a patch's target does not exist. */
function renderOverlay(dir: string): RenderedOverlay {
  const kustomization = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  if (kustomization.kind !== 'Kustomization') throw new Error(`${dir}: not a Kustomization`);
  const objects = kustomization.resources.flatMap((resource) => {
    const file = path.resolve(dir, resource);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new Error(`${dir}: no resource file ${resource}`);
    return loadFile(file);
  });
  const patched: RenderedOverlay['patched'] = [];
  for (const entry of kustomization.patches ?? []) {
    // Only patch files naming their target in their own kind and metadata.name are used here.
    if (entry.path === undefined || entry.target !== undefined || entry.patch !== undefined) {
      throw new Error(`${dir}: a patch other than a strategic-merge patch file: ${JSON.stringify(entry)}`);
    }
    for (const patch of loadFile(path.resolve(dir, entry.path))) {
      const key = `${patch.kind}/${patch.metadata.name}`;
      const index = objects.findIndex((o) => `${o.kind}/${o.metadata.name}` === key);
      const target = objects[index];
      if (target === undefined) throw new Error(`${entry.path}: no resource ${key} to patch`);
      const added: string[] = [];
      objects[index] = { ...(strategicMerge(target, bare(patch), key, added) as K8sObject), file: target.file };
      patched.push({ patch: entry.path, target: key, added });
    }
  }
  return { objects, patched };
}

/** One deployable set of manifests, and the event bus it runs. */
interface ManifestSet {
  title: string;
  objects: K8sObject[];
  bus: { transport: 'stan' | 'jetstream'; statefulSet: string; service: string };
  /** The bus of the other set: absent from this one. */
  otherBus: { statefulSet: string; service: string };
  ofKind(kind: string): K8sObject[];
  services: K8sObject[];
  workloads: K8sObject[];
  findService(name: string): K8sObject | undefined;
}

function manifestSet(
  title: string,
  objects: K8sObject[],
  bus: ManifestSet['bus'],
  otherBus: ManifestSet['otherBus'],
): ManifestSet {
  const ofKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
  const services = ofKind('Service');
  return {
    title,
    objects,
    bus,
    otherBus,
    ofKind,
    services,
    workloads: objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet'),
    findService: (name) => services.find((s) => s.metadata.name === name),
  };
}

const jetStreamDir = path.join(repoRoot, 'infra/k8s-jetstream');
const manifests = loadManifests();
// A rendering error is reported by a test below (the other tests then see an empty overlay and fail).
const overlay: RenderedOverlay & { error?: string } = (() => {
  try {
    return renderOverlay(jetStreamDir);
  } catch (error) {
    return { objects: [], patched: [], error: error instanceof Error ? error.message : String(error) };
  }
})();
const STAN_BUS = { transport: 'stan', statefulSet: 'nats', service: 'nats-srv' } as const;
const JETSTREAM_BUS = { transport: 'jetstream', statefulSet: 'nats-js', service: 'nats-js-srv' } as const;
const MANIFEST_SETS: ManifestSet[] = [
  manifestSet('infra/k8s', manifests, STAN_BUS, JETSTREAM_BUS),
  manifestSet('infra/k8s-jetstream overlay, rendered', overlay.objects, JETSTREAM_BUS, STAN_BUS),
];
const base = MANIFEST_SETS[0]!;
const workloads = base.workloads;
const serviceSpec = (o: K8sObject): ServiceSpec => o.spec as ServiceSpec;
const workloadSpec = (o: K8sObject): WorkloadSpec => o.spec as WorkloadSpec;

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function containersOf(o: K8sObject): Container[] {
  const spec = workloadSpec(o).template.spec;
  return [...spec.containers, ...(spec.initContainers ?? [])];
}

// ------------------------------------------------------------------------------------------------
// Globs as skaffold reads them (relative to the repo root): `*`, `?` and `**`.

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*' && glob.charAt(i + 1) === '*') {
      const slash = glob.charAt(i + 2) === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The directory part of a glob before its first wildcard, e.g. `auth/src` for `auth/src/**\/*.ts`. */
function staticBase(glob: string): string {
  const segments = glob.replace(/^\.\//, '').split('/');
  const base: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (/[*?[]/.test(segment)) break;
    base.push(segment);
  }
  return base.join('/');
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(full);
    return [full];
  });
}

function expandGlob(glob: string): string[] {
  const normalised = glob.replace(/^\.\//, '');
  const pattern = globToRegExp(normalised);
  return walk(path.join(repoRoot, staticBase(normalised)))
    .map((file) => path.relative(repoRoot, file).split(path.sep).join('/'))
    .filter((file) => pattern.test(file));
}

// ------------------------------------------------------------------------------------------------
// Dockerfiles: instructions grouped by stage, with ARG/ENV substitution good enough for our files.

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
  vars: Record<string, string>;
}

/** Instructions with their `\` continuations joined, comments and blank lines dropped. */
function logicalLines(text: string): string[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending) logical.push(pending);
  return logical;
}

function parseDockerfile(
  text: string,
  buildArgs: Record<string, string> = {},
): { globalArgs: Record<string, string>; stages: Stage[] } {
  const logical = logicalLines(text);
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  const substitute = (value: string, vars: Record<string, string>): string =>
    value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
      const name = braced ?? bare ?? '';
      return vars[name] ?? whole;
    });

  for (const line of logical) {
    const match = /^(\w+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    const args = match[2] ?? '';
    const current = stages[stages.length - 1];
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      const image = substitute(from?.[1] ?? '', globalArgs);
      const parent = stages.find((s) => s.name === image);
      stages.push({
        name: from?.[2] ?? String(stages.length),
        base: parent ? parent.base : image,
        instructions: [],
        vars: parent ? { ...parent.vars } : {},
      });
      continue;
    }
    if (!current) {
      if (keyword === 'ARG') {
        const [name, value] = args.split('=', 2);
        if (name) globalArgs[name.trim()] = buildArgs[name.trim()] ?? (value ?? '').trim();
      }
      continue;
    }
    current.instructions.push({ keyword, args: substitute(args, current.vars) });
    if (keyword === 'ARG') {
      const [name, value] = args.split('=', 2);
      const key = name?.trim() ?? '';
      if (key) current.vars[key] = buildArgs[key] ?? (value !== undefined ? value.trim() : (globalArgs[key] ?? ''));
    } else if (keyword === 'ENV') {
      for (const pair of args.match(/\w+=("[^"]*"|\S*)/g) ?? []) {
        const [name, ...rest] = pair.split('=');
        if (name) current.vars[name] = substitute(rest.join('=').replace(/^"|"$/g, ''), current.vars);
      }
    }
  }
  return { globalArgs, stages };
}

const lastOf = (stage: Stage, keyword: string): string | undefined =>
  stage.instructions.filter((i) => i.keyword === keyword).pop()?.args;

/**
 * The sources of the COPY/ADD instructions as skaffold reads them to decide which files an image
 * depends on (pkg/skaffold/docker/parse.go, expandBuildArgs): each ARG's value (from buildArgs, else its
 * default, else "") replaces $NAME in the instructions that follow it, up to the next ARG of the same
 * name. COPY --from=<stage> is not a source dependency.
 */
function skaffoldCopySources(text: string, buildArgs: Record<string, string>): string[] {
  const lines = logicalLines(text).map((line) => {
    const match = /^(\w+)\s*(.*)$/.exec(line);
    return { keyword: (match?.[1] ?? '').toUpperCase(), args: match?.[2] ?? '' };
  });
  lines.forEach((line, i) => {
    if (line.keyword !== 'ARG') return;
    const [key = '', fallback] = line.args.split('=', 2);
    const value = buildArgs[key] ?? fallback ?? '';
    for (const later of lines.slice(i + 1)) {
      if (later.keyword === 'ARG' && later.args.split('=')[0] === key) break;
      later.args = later.args
        .split(`\${${key}}`)
        .join(value)
        .replace(new RegExp(`\\$${key}\\b`, 'g'), value);
    }
  });
  return lines
    .filter((l) => (l.keyword === 'COPY' || l.keyword === 'ADD') && !/(^|\s)--from=/.test(l.args))
    .flatMap((l) =>
      l.args
        .split(/\s+/)
        .filter((word) => !word.startsWith('--'))
        .slice(0, -1),
    );
}

// ------------------------------------------------------------------------------------------------

interface RunResult {
  status: number | null;
  output: string;
}

function run(command: string, args: string[], timeoutMs: number): RunResult {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, output: [result.stdout, result.stderr, result.error?.message].join('\n') };
}

/** Fails with the command's whole output (a matcher would show only the exit status). */
function expectSuccess(result: RunResult): void {
  if (result.status !== 0) throw new Error(`exit status ${String(result.status)}\n${result.output}`);
}

let validation: RunResult = { status: null, output: 'not run' };

beforeAll(() => {
  // The first run creates .tools/venv and installs the pinned validators from PyPI.
  validation = run('bash', [validateScript], 290_000);
}, 300_000);

describe('infra/validate/validate-manifests.sh', () => {
  it('validates every manifest (strict Kubernetes schemas) and skaffold.yaml, exiting 0', () => {
    expectSuccess(validation);
  });
});

describe('skaffold.yaml', () => {
  interface Artifact {
    image: string;
    context?: string;
    docker?: { dockerfile?: string; target?: string; buildArgs?: Record<string, string> };
    sync?: { manual?: { src: string; dest: string; strip?: string }[] };
  }
  interface SkaffoldConfig {
    apiVersion: string;
    kind: string;
    build: { local?: { push?: boolean }; artifacts: Artifact[] };
    manifests: { rawYaml?: string[]; kustomize?: { paths?: string[]; buildArgs?: string[] } };
    deploy: { kubectl?: object };
    profiles?: { name: string; patches?: { op: string; path: string; value?: unknown }[] }[];
  }
  const skaffoldPath = path.join(repoRoot, 'skaffold.yaml');
  const config = yaml.load(fs.readFileSync(skaffoldPath, 'utf8')) as SkaffoldConfig;

  it('conforms to the skaffold/v4beta13 JSON schema', () => {
    expectSuccess(
      run(venvPython, [path.join(__dirname, 'check_skaffold.py'), skaffoldPath, skaffoldSchemaPath()], 60_000),
    );
  });

  it('builds locally without pushing and deploys the raw manifests with kubectl', () => {
    expect(config.apiVersion).toBe('skaffold/v4beta13');
    expect(config.kind).toBe('Config');
    expect(config.build.local?.push).toBe(false);
    expect(config.deploy.kubectl).toBeDefined();
  });

  it('builds one image per service and the client from its own Dockerfile, stage dev, with the repo root as context', () => {
    expect(config.build.artifacts.map((a) => a.image).sort()).toEqual(IMAGES.map((s) => `ticketing/${s}`).sort());
    for (const artifact of config.build.artifacts) {
      const context = path.resolve(repoRoot, artifact.context ?? '.');
      expect(context).toBe(repoRoot);
      const dockerfile = path.join(context, artifact.docker?.dockerfile ?? 'Dockerfile');
      expect(fs.existsSync(dockerfile)).toBe(true);
      const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8')).stages.map((s) => s.name);
      expect(stages).toContain(artifact.docker?.target);
    }
  });

  type JsonPatch = { op: string; path: string; value?: unknown };
  /** `skaffold -p NAMES`: the profiles' JSON patches applied in order to a copy of the config. */
  function withProfiles(...names: string[]): SkaffoldConfig {
    const patched = JSON.parse(JSON.stringify(config)) as SkaffoldConfig;
    for (const name of names) {
      const profile = config.profiles?.find((p) => p.name === name);
      expect({ profile: name, defined: profile !== undefined }).toEqual({ profile: name, defined: true });
      for (const patch of (profile?.patches ?? []) as JsonPatch[]) {
        const keys = patch.path.split('/').slice(1);
        const last = keys.pop() ?? '';
        let node: unknown = patched;
        for (const key of keys) node = (node as Record<string, unknown> | undefined)?.[key];
        const parent = node as Record<string, unknown> | undefined;
        // remove and replace need the value there; add needs its parent and nothing there yet.
        const ok =
          parent !== undefined &&
          (patch.op === 'add' ? !(last in parent) && patch.value !== undefined : last in parent) &&
          ['add', 'remove', 'replace'].includes(patch.op);
        expect({ profile: name, op: patch.op, path: patch.path, ok }).toEqual({
          profile: name,
          op: patch.op,
          path: patch.path,
          ok: true,
        });
        if (!ok || parent === undefined) continue;
        if (patch.op === 'remove') delete parent[last];
        else parent[last] = patch.value;
      }
    }
    return patched;
  }

  it('has a production profile that builds the runtime stage (the default target) and syncs nothing', () => {
    const patched = withProfiles('production');
    for (const artifact of patched.build.artifacts) {
      expect({ image: artifact.image, target: artifact.docker?.target, sync: artifact.sync }).toEqual({
        image: artifact.image,
        target: undefined,
        sync: undefined,
      });
    }
  });

  it('has a jetstream profile that deploys the kustomize overlay infra/k8s-jetstream instead of the raw manifests, alone or with production', () => {
    for (const profiles of [['jetstream'], ['production', 'jetstream'], ['jetstream', 'production']]) {
      const patched = withProfiles(...profiles);
      expect({ profiles, rawYaml: patched.manifests.rawYaml }).toEqual({ profiles, rawYaml: undefined });
      const kustomize = patched.manifests.kustomize;
      expect((kustomize?.paths ?? []).map((p) => path.resolve(repoRoot, p))).toEqual([jetStreamDir]);
      expect(fs.existsSync(path.join(jetStreamDir, 'kustomization.yaml'))).toBe(true);
      // The overlay's resources are outside its folder: kustomize build refuses them otherwise.
      expect((kustomize?.buildArgs ?? []).join(' ')).toContain('--load-restrictor LoadRestrictionsNone');
      // Same images built: the profile changes what is deployed, not what is built.
      expect(patched.build.artifacts.map((a) => a.image)).toEqual(config.build.artifacts.map((a) => a.image));
    }
  });

  it('lets skaffold see exactly which files each image depends on (buildArgs.SERVICE)', () => {
    for (const artifact of config.build.artifacts) {
      const service = artifact.image.replace(/^ticketing\//, '');
      // client/Dockerfile is the client's alone: no SERVICE argument to expand.
      expect(artifact.docker?.buildArgs?.['SERVICE']).toBe(service === CLIENT ? undefined : service);
      const dockerfile = fs.readFileSync(path.join(repoRoot, artifact.docker?.dockerfile ?? 'Dockerfile'), 'utf8');
      for (const source of skaffoldCopySources(dockerfile, artifact.docker?.buildArgs ?? {})) {
        const normalised = path.posix.normalize(source).replace(/^\/+|\/+$/g, '');
        // '' is the whole context: any edit anywhere would rebuild this image.
        const ok = normalised !== '' && normalised !== '.' && !source.includes('$');
        const exists = fs.existsSync(path.join(repoRoot, normalised));
        expect({ image: artifact.image, source, ok, exists }).toEqual({
          image: artifact.image,
          source,
          ok: true,
          exists: true,
        });
        // Another service's folder would make this image rebuild on that service's edits.
        const otherService = IMAGES.find((s) => s !== service && normalised === s);
        expect({ image: artifact.image, source, otherService }).toEqual({
          image: artifact.image,
          source,
          otherService: undefined,
        });
      }
    }
  });

  it('syncs source files that exist to the path where the dev image runs them', () => {
    for (const artifact of config.build.artifacts) {
      const rules = artifact.sync?.manual ?? [];
      expect(rules.length).toBeGreaterThan(0);
      const dockerfile = path.join(repoRoot, artifact.docker?.dockerfile ?? 'Dockerfile');
      const dev = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'), artifact.docker?.buildArgs).stages.find(
        (s) => s.name === artifact.docker?.target,
      );
      const workdir = dev && lastOf(dev, 'WORKDIR');
      for (const rule of rules) {
        const base = staticBase(rule.src);
        const exists = expandGlob(rule.src).length > 0 || fs.existsSync(path.join(repoRoot, base));
        expect({ src: rule.src, exists }).toEqual({ src: rule.src, exists: true });
        // skaffold keeps the context-relative path under dest (minus `strip`): <dest>/<svc>/src/...
        const strip = (rule.strip ?? '').replace(/\/$/, '');
        const kept = strip && base.startsWith(strip) ? base.slice(strip.length).replace(/^\//, '') : base;
        const landsIn = path.posix.join(rule.dest, kept);
        expect({ src: rule.src, landsIn }).toEqual({ src: rule.src, landsIn: path.posix.join(workdir ?? '?', 'src') });
      }
    }
  });

  it('deploys manifest globs that resolve to YAML files only', () => {
    expect(config.manifests.rawYaml?.length).toBeGreaterThan(0);
    for (const glob of config.manifests.rawYaml ?? []) {
      const files = expandGlob(glob);
      expect({ glob, count: files.length > 0 }).toEqual({ glob, count: true });
      for (const file of files) expect(file).toMatch(/\.ya?ml$/);
    }
  });

  it('names images that the manifests run', () => {
    const used = new Set(workloads.flatMap((w) => containersOf(w).map((c) => c.image)));
    for (const artifact of config.build.artifacts) expect(used).toContain(artifact.image);
  });
});

describe.each(MANIFEST_SETS)('Kubernetes manifests ($title)', (set) => {
  const { ofKind, services, workloads, findService } = set;
  const manifests = set.objects;
  const skaffoldImages = new Set(IMAGES.map((s) => `ticketing/${s}`));

  it('define each component the design lists', () => {
    const names = (kind: string): string[] => ofKind(kind).map((o) => o.metadata.name);
    for (const s of IMAGES) {
      expect(names('Deployment')).toContain(`${s}-depl`);
      expect(names('Service')).toContain(`${s}-srv`);
    }
    for (const s of MONGO_SERVICES) {
      expect(names('StatefulSet')).toContain(`${s}-mongo`);
      expect(names('Service')).toContain(`${s}-mongo-srv`);
    }
    expect(names('StatefulSet')).toEqual(expect.arrayContaining([set.bus.statefulSet, 'expiration-redis']));
    expect(names('Service')).toEqual(expect.arrayContaining([set.bus.service, 'expiration-redis-srv']));
    // One event bus: the other transport's server is not deployed beside it.
    expect(names('StatefulSet')).not.toContain(set.otherBus.statefulSet);
    expect(names('Service')).not.toContain(set.otherBus.service);
    expect(ofKind('Ingress')).toHaveLength(1);
  });

  it('use each name once per kind', () => {
    const keys = manifests.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it('pin every third-party image to an exact version (no tagless, :latest or floating tag)', () => {
    for (const workload of workloads) {
      for (const container of containersOf(workload)) {
        if (skaffoldImages.has(container.image)) continue; // tagged by skaffold at deploy time
        const pinned = /^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[a-f0-9]{64})?$/.exec(container.image);
        const ok = pinned !== null && (pinned[1] !== undefined || pinned[2] !== undefined);
        expect({ image: container.image, pinned: ok }).toEqual({ image: container.image, pinned: true });
      }
    }
  });

  it('select their pods with labels the pod template carries', () => {
    for (const workload of workloads) {
      const spec = workloadSpec(workload);
      expect({
        name: workload.metadata.name,
        ok: matches(spec.selector.matchLabels, spec.template.metadata.labels),
      }).toEqual({ name: workload.metadata.name, ok: true });
    }
  });

  it('run every pod as non-root with resource requests and limits', () => {
    for (const workload of workloads) {
      const pod = workloadSpec(workload).template.spec;
      for (const container of containersOf(workload)) {
        const nonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
        const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        expect({ container: container.name, nonRoot, rootUid: uid === 0 }).toEqual({
          container: container.name,
          nonRoot: true,
          rootUid: false,
        });
        for (const section of ['requests', 'limits'] as const) {
          const resources = container.resources?.[section] ?? {};
          expect({ container: container.name, section, keys: Object.keys(resources).sort() }).toEqual({
            container: container.name,
            section,
            keys: ['cpu', 'memory'],
          });
        }
      }
    }
  });

  it('give every Deployment a <svc>-srv Service on port 3000 and /readyz, /healthz probes', () => {
    for (const deployment of ofKind('Deployment')) {
      const name = deployment.metadata.name.replace(/-depl$/, '');
      const spec = workloadSpec(deployment);
      expect(spec.replicas).toBe(1);
      const service = findService(`${name}-srv`);
      expect(service).toBeDefined();
      if (!service) continue;
      const ports = serviceSpec(service).ports;
      expect(ports.map((p) => p.port)).toContain(3000);
      expect(matches(serviceSpec(service).selector, spec.template.metadata.labels)).toBe(true);
      const [container] = spec.template.spec.containers;
      const containerPorts = container?.ports ?? [];
      for (const port of ports) {
        const target = port.targetPort ?? port.port;
        expect(containerPorts.some((p) => p.name === target || p.containerPort === target)).toBe(true);
      }
      expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(container?.livenessProbe?.httpGet?.path).toBe('/healthz');
      // Not a read-only root filesystem here: `skaffold dev` syncs edited sources into the running
      // container, which needs a writable one. npm run test:deploy runs every production image
      // read-only, so a production overlay may set readOnlyRootFilesystem.
      expect({ name, readOnly: container?.securityContext?.readOnlyRootFilesystem }).toEqual({
        name,
        readOnly: undefined,
      });
    }
  });

  it('wire each Deployment to Services and Secrets that exist', () => {
    const docs = fs.readFileSync(path.join(repoRoot, 'docs/operations.md'), 'utf8');
    const serviceDeployments = ofKind('Deployment').filter((d) => d.metadata.name !== `${CLIENT}-depl`);
    expect(serviceDeployments).toHaveLength(SERVICES.length);
    for (const deployment of serviceDeployments) {
      const name = deployment.metadata.name.replace(/-depl$/, '');
      const env = workloadSpec(deployment).template.spec.containers.flatMap((c) => c.env ?? []);
      const byName = new Map(env.map((e) => [e.name, e]));
      // Exactly what the service reads: every variable without a default is set, and none that the
      // service ignores (a variable it never reads is a setting an operator changes to no effect).
      // LOG_LEVEL is read by the logger in common. NODE_ENV comes from the image (dev or runtime).
      // Only the backend services: another workload (the web client) is checked by its own tests.
      if (isService(name)) {
        const spec = CONFIG_SPECS[name];
        const known = new Set([...Object.keys(spec), 'LOG_LEVEL']);
        const unread = env.map((e) => e.name).filter((n) => !known.has(n));
        expect({ deployment: name, unread }).toEqual({ deployment: name, unread: [] });
        const required = Object.entries(spec)
          .filter(([variable, varSpec]) => 'error' in varSpec.parse(undefined, variable))
          .map(([variable]) => variable);
        const missing = required.filter((variable) => !byName.has(variable));
        expect({ deployment: name, missing }).toEqual({ deployment: name, missing: [] });
        expect({ deployment: name, NODE_ENV: byName.has('NODE_ENV') }).toEqual({ deployment: name, NODE_ENV: false });
      }
      // One client id per pod: NATS Streaming rejects a second connection with an id in use.
      if (byName.has('NATS_URL')) {
        expect(byName.get('NATS_CLIENT_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
      }
      // Every service on this set's bus: its transport, and the Service of its server.
      if (isService(name)) {
        const transport = byName.get('EVENT_BUS')?.value ?? 'stan';
        const host = /^nats:\/\/([^:/]+):/.exec(byName.get('NATS_URL')?.value ?? '')?.[1];
        expect({ deployment: name, transport, host }).toEqual({
          deployment: name,
          transport: set.bus.transport,
          host: set.bus.service,
        });
      }

      for (const variable of env) {
        // Connection strings name a Service of infra/k8s and one of its ports.
        const url = /^(?:mongodb|nats|redis):\/\/([^:/]+):(\d+)/.exec(variable.value ?? '');
        if (url) {
          const service = findService(url[1] ?? '');
          expect({ env: variable.name, host: url[1], defined: service !== undefined }).toEqual({
            env: variable.name,
            host: url[1],
            defined: true,
          });
          if (service) expect(serviceSpec(service).ports.map((p) => String(p.port))).toContain(url[2]);
        }
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) {
          expect(DOCUMENTED_SECRETS[ref.name]).toContain(ref.key);
          expect(docs).toContain(`kubectl create secret generic ${ref.name}`);
        }
      }
      if ((MONGO_SERVICES as readonly string[]).includes(name)) {
        expect(byName.get('MONGO_URI')?.value).toBe(`mongodb://${name}-mongo-srv:27017/${name}`);
        expect(byName.get('JWT_KEY')?.valueFrom?.secretKeyRef?.name).toBe('jwt-secret');
      }
    }
  });

  it('govern every StatefulSet by a Service that selects it, with persistent volume claims', () => {
    for (const set of ofKind('StatefulSet')) {
      const spec = workloadSpec(set);
      const service = findService(spec.serviceName ?? '');
      expect({ statefulSet: set.metadata.name, service: service?.metadata.name }).toEqual({
        statefulSet: set.metadata.name,
        service: spec.serviceName,
      });
      if (service) expect(matches(serviceSpec(service).selector, spec.template.metadata.labels)).toBe(true);
      expect(spec.volumeClaimTemplates?.length ?? 0).toBeGreaterThan(0);
    }
    for (const s of MONGO_SERVICES) {
      expect(findService(`${s}-mongo-srv`)?.spec).toMatchObject({ clusterIP: 'None' });
    }
  });

  it('route every Ingress path (regex, ingress-nginx) to a Service and port defined here', () => {
    for (const ingress of ofKind('Ingress')) {
      const spec = ingress.spec as IngressSpec;
      expect(spec.ingressClassName).toBe('nginx');
      expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex']).toBe('true');
      for (const rule of spec.rules) {
        expect(rule.host).toBe('ticketing.dev');
        for (const p of rule.http.paths) {
          expect(p.pathType).toBe('ImplementationSpecific');
          const service = findService(p.backend.service.name);
          expect({ path: p.path, service: service?.metadata.name }).toEqual({
            path: p.path,
            service: p.backend.service.name,
          });
          if (!service) continue;
          const ports = serviceSpec(service).ports;
          const { number, name } = p.backend.service.port;
          expect(ports.some((port) => port.port === number || (name !== undefined && port.name === name))).toBe(true);
        }
      }
      const routed = spec.rules.flatMap((r) => r.http.paths.map((p) => `${p.path} -> ${p.backend.service.name}`));
      expect(routed).toEqual(
        expect.arrayContaining([
          '/api/users/?(.*) -> auth-srv',
          '/api/tickets/?(.*) -> tickets-srv',
          '/api/orders/?(.*) -> orders-srv',
          '/api/payments/?(.*) -> payments-srv',
        ]),
      );
      // The web client takes every other path: listed last, after every /api path.
      expect(routed[routed.length - 1]).toBe('/(?!api/|metrics|_status|healthz|readyz)(.*) -> client-srv');
      // It takes the client's pages (the operational paths are checked below).
      const catchAll = new RegExp(`^${spec.rules[0]?.http.paths.at(-1)?.path ?? '$^'}`, 'i');
      for (const url of ['/', '/tickets/abc', '/orders', '/auth/signin', '/_next/static/x.js']) {
        expect({ url, routed: catchAll.test(url) }).toEqual({ url, routed: true });
      }
    }
  });

  it('point the web client at the API through the Ingress (API_URL with API_HOST, or API_ROUTES)', () => {
    const client = ofKind('Deployment').find((d) => d.metadata.name === `${CLIENT}-depl`);
    const env = new Map(
      (client ? workloadSpec(client).template.spec.containers.flatMap((c) => c.env ?? []) : []).map((e) => [
        e.name,
        e.value,
      ]),
    );
    // NODE_ENV comes from the image's stage (next dev or next start), as for the services.
    expect(env.has('NODE_ENV')).toBe(false);
    const host = (ofKind('Ingress')[0]?.spec as IngressSpec | undefined)?.rules[0]?.host;
    if (env.has('API_ROUTES')) {
      for (const pair of (env.get('API_ROUTES') ?? '').split(',')) {
        const service = /^\/api\/\w+=http:\/\/([\w-]+):3000$/.exec(pair.trim())?.[1];
        expect({ pair, defined: service !== undefined && findService(service) !== undefined }).toEqual({
          pair,
          defined: true,
        });
      }
    } else {
      expect(env.get('API_URL')).toMatch(/^http:\/\/[\w.-]+$/);
      expect(env.get('API_HOST')).toBe(host);
    }
  });

  it('let Prometheus scrape every service pod on a metrics port of its own (annotations, METRICS_PORT)', () => {
    for (const service of SERVICES) {
      const deployment = workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === `${service}-depl`);
      const template = workloadSpec(deployment!).template;
      const annotations = (template.metadata as Metadata).annotations ?? {};
      expect({ service, annotations }).toEqual({
        service,
        annotations: expect.objectContaining({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': '9464',
          'prometheus.io/path': '/metrics',
        }),
      });
      const container = template.spec.containers.find((c) => c.name === service)!;
      expect(container.ports).toEqual(expect.arrayContaining([{ name: 'metrics', containerPort: 9464 }]));
      expect(container.env).toEqual(expect.arrayContaining([{ name: 'METRICS_PORT', value: '9464' }]));
    }
  });

  it('keep /metrics and the dev status page off the public entry (no Service or Ingress path reaches them)', () => {
    // The metrics port is reached pod to pod only: no Service publishes it, so no Ingress can route it.
    for (const service of services) {
      for (const port of serviceSpec(service).ports) {
        expect({ service: service.metadata.name, port: port.targetPort }).not.toEqual({
          service: service.metadata.name,
          port: 'metrics',
        });
        expect(port.port).not.toBe(9464);
      }
    }
    // ingress-nginx matches use-regex paths case-insensitively from the start of the URI.
    const paths = ofKind('Ingress').flatMap((i) => (i.spec as IngressSpec).rules.flatMap((r) => r.http.paths));
    for (const url of ['/metrics', '/_status', '/_status.json', '/healthz', '/readyz']) {
      const routedBy = paths.filter((p) => new RegExp(`^${p.path}`, 'i').test(url)).map((p) => p.path);
      expect({ url, routedBy }).toEqual({ url, routedBy: [] });
    }
  });

  it('apply each NetworkPolicy to pods that exist', () => {
    const podLabels = workloads.map((w) => workloadSpec(w).template.metadata.labels);
    for (const policy of ofKind('NetworkPolicy')) {
      const selector = (policy.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector;
      expect(podLabels.some((labels) => matches(selector.matchLabels, labels))).toBe(true);
    }
  });
});

describe('infra/k8s-jetstream (the kustomize overlay of the jetstream profile)', () => {
  const jetstream = MANIFEST_SETS[1]!;
  const kustomization = yaml.load(
    fs.readFileSync(path.join(jetStreamDir, 'kustomization.yaml'), 'utf8'),
  ) as Kustomization;
  const deployment = (objects: K8sObject[], name: string): K8sObject | undefined =>
    objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  const envOf = (o: K8sObject | undefined): Map<string, EnvVar> =>
    new Map((o ? workloadSpec(o).template.spec.containers.flatMap((c) => c.env ?? []) : []).map((e) => [e.name, e]));
  const natsJs = jetstream.ofKind('StatefulSet').find((o) => o.metadata.name === JETSTREAM_BUS.statefulSet);

  it('renders: every resource file exists and every patch finds the object it names', () => {
    expect(overlay.error).toBeUndefined();
  });

  it('deploys every file of infra/k8s but NATS Streaming (nats.yaml), and the JetStream cluster', () => {
    const k8sFiles = fs
      .readdirSync(k8sDir)
      .filter((f) => /\.ya?ml$/.test(f) && f !== 'nats.yaml')
      .map((f) => `../k8s/${f}`);
    expect([...kustomization.resources].sort()).toEqual([...k8sFiles, 'jetstream.yaml'].sort());
  });

  it('patches each service Deployment once, merging into its own container: no Deployment copied, no container added', () => {
    expect(overlay.patched.map((p) => p.target).sort()).toEqual(SERVICES.map((s) => `Deployment/${s}-depl`).sort());
    for (const { patch, target, added } of overlay.patched) {
      // Only variables are added; a container name that is not the Deployment's would add a container.
      const service = target.replace(/^Deployment\/|-depl$/g, '');
      expect({ patch, added }).toEqual({
        patch,
        added: [
          `${target}.spec.template.spec.containers[${service}].env[EVENT_BUS]`,
          `${target}.spec.template.spec.containers[${service}].env[JETSTREAM_REPLICAS]`,
        ],
      });
      const rendered = deployment(jetstream.objects, `${service}-depl`);
      expect(containersOf(rendered!).map((c) => c.name)).toEqual(
        containersOf(deployment(manifests, `${service}-depl`)!).map((c) => c.name),
      );
    }
    // Whatever is not patched is infra/k8s's object as it is.
    const patchedKeys = new Set(overlay.patched.map((p) => p.target));
    for (const object of jetstream.objects.filter((o) => !patchedKeys.has(`${o.kind}/${o.metadata.name}`))) {
      if (object.file.startsWith('k8s-jetstream/')) continue;
      const original = manifests.find((o) => o.kind === object.kind && o.metadata.name === object.metadata.name);
      expect(object).toEqual(original);
    }
  });

  it('puts every service on JetStream: EVENT_BUS=jetstream, NATS_URL at nats-js-srv, streams replicated on every server', () => {
    const replicas = natsJs === undefined ? undefined : workloadSpec(natsJs).replicas;
    for (const service of SERVICES) {
      const env = envOf(deployment(jetstream.objects, `${service}-depl`));
      expect({
        service,
        EVENT_BUS: env.get('EVENT_BUS')?.value,
        NATS_URL: env.get('NATS_URL')?.value,
        JETSTREAM_REPLICAS: env.get('JETSTREAM_REPLICAS')?.value,
      }).toEqual({
        service,
        EVENT_BUS: 'jetstream',
        NATS_URL: 'nats://nats-js-srv:4222',
        JETSTREAM_REPLICAS: String(replicas),
      });
      // Each service reads these (its config spec), and they parse.
      for (const variable of ['EVENT_BUS', 'NATS_URL', 'JETSTREAM_REPLICAS']) {
        const parsed = CONFIG_SPECS[service][variable]?.parse(env.get(variable)?.value, variable);
        expect({ service, variable, parsed: parsed !== undefined && !('error' in parsed) }).toEqual({
          service,
          variable,
          parsed: true,
        });
      }
    }
    // The web client has no bus.
    expect(envOf(deployment(jetstream.objects, `${CLIENT}-depl`)).has('EVENT_BUS')).toBe(false);
  });

  it('runs JetStream as a three-node cluster with a file store on a persistent volume claim per pod', () => {
    expect(natsJs).toBeDefined();
    if (natsJs === undefined) return;
    const spec = workloadSpec(natsJs);
    expect(spec.replicas).toBe(3);
    const configMap = jetstream.ofKind('ConfigMap').find((c) => c.metadata.name === 'nats-js-config');
    const data = (configMap as { data?: Record<string, string> } | undefined)?.data;
    const conf = data?.['nats.conf'] ?? '';
    const storeDir = /jetstream\s*\{[^}]*store_dir:\s*(\S+)/.exec(conf)?.[1];
    const [container] = spec.template.spec.containers;
    const storeVolume = container?.volumeMounts?.find((m) => m.mountPath === storeDir)?.name;
    // File storage on a claim of its own: the store survives the pod.
    expect({ storeDir, storeVolume, claims: spec.volumeClaimTemplates?.map((v) => v.metadata.name) }).toEqual({
      storeDir: '/data',
      storeVolume: 'data',
      claims: ['data'],
    });
    expect(conf).not.toMatch(/max_mem_store|store:\s*memory/);
    // The cluster's routes are the three pods by their stable names under the governing Service.
    const routes = [...conf.matchAll(/nats:\/\/([\w.-]+):6222/g)].map((m) => m[1]);
    expect(routes).toEqual([0, 1, 2].map((i) => `${natsJs.metadata.name}-${i}.${spec.serviceName ?? '?'}`));
    expect(jetstream.findService(spec.serviceName ?? '')?.spec).toMatchObject({ clusterIP: 'None' });
    // The config the pods mount is this ConfigMap; the client Service selects these pods.
    expect(JSON.stringify(spec.template.spec)).toContain('"name":"nats-js-config"');
    const client = jetstream.findService(JETSTREAM_BUS.service);
    expect(matches(client ? serviceSpec(client).selector : undefined, spec.template.metadata.labels)).toBe(true);
    // A disruption budget that keeps a majority (2 of 3) up: the streams stay writable.
    const pdb = jetstream.ofKind('PodDisruptionBudget')[0]?.spec as { maxUnavailable?: number } | undefined;
    expect(pdb?.maxUnavailable).toBe(1);
  });

  it('renders to objects that pass the strict Kubernetes schemas', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketing-overlay-'));
    try {
      const file = path.join(dir, 'rendered.yaml');
      fs.writeFileSync(file, jetstream.objects.map((o) => yaml.dump(bare(o))).join('---\n'));
      const result = run(
        path.join(repoRoot, '.tools/venv/bin/kubernetes-validate'),
        ['--strict', '--kubernetes-version', '1.37.0', file],
        120_000,
      );
      expectSuccess(result);
      const lines = result.output.split('\n').filter((l) => l.trim() !== '');
      expect(lines.filter((l) => !l.startsWith('INFO '))).toEqual([]);
      expect(lines).toHaveLength(jetstream.objects.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a patch whose Deployment does not exist (so a renamed Deployment is noticed)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticketing-overlay-'));
    try {
      fs.cpSync(jetStreamDir, path.join(dir, 'k8s-jetstream'), { recursive: true });
      fs.symlinkSync(k8sDir, path.join(dir, 'k8s'));
      const patchFile = path.join(dir, 'k8s-jetstream/patches/orders-depl.yaml');
      fs.writeFileSync(patchFile, fs.readFileSync(patchFile, 'utf8').replace('name: orders-depl', 'name: order-depl'));
      expect(() => renderOverlay(path.join(dir, 'k8s-jetstream'))).toThrow(
        'patches/orders-depl.yaml: no resource Deployment/order-depl to patch',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Where kubectl is installed (it is not needed): the rendering above is what kustomize makes.
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  (kubectl ? it : it.skip)('renders as `kubectl kustomize` does (when kubectl is installed)', () => {
    const result = run(
      'kubectl',
      ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', path.relative(repoRoot, jetStreamDir)],
      60_000,
    );
    expectSuccess(result);
    const byKey = (objects: Omit<K8sObject, 'file'>[]): Record<string, unknown> =>
      Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
    const ours = byKey(jetstream.objects.map(bare));
    const theirs = byKey(
      yaml
        .loadAll(
          result.output
            .split('\n')
            .filter((l) => !/^E\d{4} /.test(l))
            .join('\n'),
        )
        .filter(isObject) as Omit<K8sObject, 'file'>[],
    );
    expect(ours).toEqual(theirs);
  });
});

describe('Dockerfile (one for the five services)', () => {
  const file = path.join(repoRoot, 'Dockerfile');
  const text = fs.readFileSync(file, 'utf8');
  // SERVICE left as written, to see where the stages use it.
  const parsed = parseDockerfile(text, { SERVICE: '${SERVICE}' });

  it('needs no BuildKit frontend image (no `# syntax=` line: offline builds could not pull it)', () => {
    expect(text).not.toMatch(/^#\s*syntax\s*=/m);
  });

  it('copies the package.json of every workspace the root package.json lists (npm ci checks them all)', () => {
    const rootPackage = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    for (const workspace of rootPackage.workspaces) {
      expect({ workspace, copied: text.includes(`COPY ${workspace}/package.json ${workspace}/\n`) }).toEqual({
        workspace,
        copied: true,
      });
    }
  });

  it('declares ARG SERVICE in each stage that uses it and never keeps it in an ENV (layer-cache hazard)', () => {
    for (const stage of parsed.stages) {
      const uses = stage.instructions.some((i) => i.keyword !== 'ARG' && /\$\{?SERVICE\b/.test(i.args));
      const declares = stage.instructions.some((i) => i.keyword === 'ARG' && /^SERVICE\b/.test(i.args));
      // A stage built FROM another inherits its ARG declarations only in BuildKit; declare it again.
      expect({ stage: stage.name, uses, declares }).toEqual({ stage: stage.name, uses, declares: uses });
      for (const env of stage.instructions.filter((i) => i.keyword === 'ENV')) expect(env.args).not.toMatch(/SERVICE/);
    }
    expect(parsed.globalArgs['SERVICE']).toBeUndefined();
  });

  describe.each(SERVICES)('built with SERVICE=%s', (service) => {
    const { stages } = parseDockerfile(text, { SERVICE: service });
    const runtime = stages[stages.length - 1];
    const dev = stages.find((s) => s.name === 'dev');

    it('starts every stage from a pinned node 20 bookworm-slim image', () => {
      for (const stage of stages) {
        expect(stage.base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
      }
    });

    it('has the stages deps, dev (skaffold), build and runtime (last, the default target)', () => {
      expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['deps', 'dev', 'build', 'runtime']));
      expect(runtime?.name).toBe('runtime');
    });

    it('runs `node dist/main.js` from the service folder as a non-root user in production mode', () => {
      if (!runtime) throw new Error('no stage');
      const user = lastOf(runtime, 'USER') ?? 'root';
      expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
      expect(JSON.parse(lastOf(runtime, 'CMD') ?? 'null')).toEqual(['node', 'dist/main.js']);
      expect(lastOf(runtime, 'WORKDIR')).toBe(`/app/${service}`);
      expect(runtime.vars['NODE_ENV']).toBe('production');
      expect(lastOf(runtime, 'EXPOSE')).toBe('3000');
    });

    it('runs the dev stage in development mode from the service folder, which belongs to its user', () => {
      if (!dev) throw new Error('no dev stage');
      expect(dev.vars['NODE_ENV']).toBe('development');
      expect(lastOf(dev, 'WORKDIR')).toBe(`/app/${service}`);
      const user = lastOf(dev, 'USER') ?? 'root';
      expect(user).not.toMatch(/^(root|0)$/);
      expect(
        dev.instructions.some((i) => i.keyword === 'RUN' && i.args.includes(`chown ${user}:${user} "${service}"`)),
      ).toBe(true);
    });
  });

  it('installs production dependencies only for the runtime image and runs no install script', () => {
    const installs = parsed.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args));
    expect(installs.some((i) => i.args.includes('--omit=dev'))).toBe(true);
    for (const install of installs) expect(install.args).toContain('--ignore-scripts');
  });
});

describe('client/Dockerfile', () => {
  const text = fs.readFileSync(path.join(repoRoot, 'client/Dockerfile'), 'utf8');
  const { stages } = parseDockerfile(text);
  const runtime = stages[stages.length - 1];

  it('builds from a pinned node 20 bookworm-slim image, with the stages dev (skaffold) and runtime (last)', () => {
    for (const stage of stages) expect(stage.base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['deps', 'dev', 'build', 'runtime']));
    expect(runtime?.name).toBe('runtime');
  });

  it('copies every workspace manifest, as the services do, so that npm ci can check the lockfile', () => {
    const workspaces = (
      JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] }
    ).workspaces;
    for (const file of [text, fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')]) {
      for (const ws of workspaces) expect(file).toContain(`COPY ${ws}/package.json ${ws}/`);
    }
  });

  it('runs the client server (next start with a clean SIGTERM) from the client folder as a non-root user in production mode, with production dependencies only', () => {
    if (!runtime) throw new Error('no stage');
    expect((lastOf(runtime, 'USER') ?? 'root').split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(JSON.parse(lastOf(runtime, 'CMD') ?? 'null')).toEqual(['node', 'server.mjs']);
    expect(fs.existsSync(path.join(repoRoot, 'client/server.mjs'))).toBe(true);
    expect(lastOf(runtime, 'WORKDIR')).toBe('/app/client');
    expect(runtime.vars['NODE_ENV']).toBe('production');
    expect(lastOf(runtime, 'EXPOSE')).toBe('3000');
    const installs = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args));
    expect(installs.some((i) => i.args.includes('--omit=dev'))).toBe(true);
    for (const install of installs) expect(install.args).toContain('--ignore-scripts');
  });
});
