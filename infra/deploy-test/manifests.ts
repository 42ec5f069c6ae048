import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// js-yaml (4.x, hoisted at the root of node_modules) ships no type declarations; this is the part of
// its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { loadAll(text: string): unknown[] };

/**
 * The parts of infra/k8s that `npm run test:deploy` runs from: workloads (their containers' image,
 * args, env, probes, security context, volumes, grace period), the Services that name them and the
 * Ingress paths. Read from the YAML each run, so the test runs what a cluster would be given.
 */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
export interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
  timeoutSeconds?: number;
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
}
export interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
export interface Workload {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  labels: Record<string, string>;
  container: Container;
  podSecurity: SecurityContext;
  graceSeconds: number;
}
export interface ServiceDef {
  name: string;
  selector: Record<string, string>;
  ports: Array<{ name?: string; port: number; targetPort?: number | string }>;
}
export interface IngressPath {
  host: string;
  path: string;
  service: string;
  port: number;
}
export interface Manifests {
  workloads: Workload[];
  services: ServiceDef[];
  ingress: IngressPath[];
  /** Ingress annotation nginx.ingress.kubernetes.io/use-regex. */
  useRegex: boolean;
}

interface RawObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

export function loadManifests(dir: string): Manifests {
  const objects: RawObject[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const doc of yaml.loadAll(readFileSync(path.join(dir, file), 'utf8'))) {
      if (doc !== null && typeof doc === 'object' && 'kind' in doc) objects.push(doc as RawObject);
    }
  }
  const workloads: Workload[] = [];
  const services: ServiceDef[] = [];
  const ingress: IngressPath[] = [];
  let useRegex = false;
  for (const o of objects) {
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      const template = o.spec['template'] as {
        metadata: { labels: Record<string, string> };
        spec: { containers: Container[]; securityContext?: SecurityContext; terminationGracePeriodSeconds?: number };
      };
      const [container, ...others] = template.spec.containers;
      if (container === undefined || others.length > 0) {
        throw new Error(`${o.kind} ${o.metadata.name}: test:deploy runs pods of exactly one container`);
      }
      workloads.push({
        kind: o.kind,
        name: o.metadata.name,
        labels: template.metadata.labels,
        container,
        podSecurity: template.spec.securityContext ?? {},
        // The Kubernetes default when the pod does not say.
        graceSeconds: template.spec.terminationGracePeriodSeconds ?? 30,
      });
    } else if (o.kind === 'Service') {
      services.push({
        name: o.metadata.name,
        selector: (o.spec['selector'] as Record<string, string> | undefined) ?? {},
        ports: o.spec['ports'] as ServiceDef['ports'],
      });
    } else if (o.kind === 'Ingress') {
      useRegex ||= o.metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex'] === 'true';
      const rules = o.spec['rules'] as Array<{
        host?: string;
        http: { paths: Array<{ path: string; backend: { service: { name: string; port: { number: number } } } }> };
      }>;
      for (const rule of rules) {
        for (const p of rule.http.paths) {
          ingress.push({
            host: rule.host ?? '_',
            path: p.path,
            service: p.backend.service.name,
            port: p.backend.service.port.number,
          });
        }
      }
    }
  }
  return { workloads, services, ingress, useRegex };
}

/** The Services whose selector picks this workload's pods: their names become network aliases. */
export function servicesOf(m: Manifests, w: Workload): ServiceDef[] {
  return m.services.filter(
    (s) => Object.keys(s.selector).length > 0 && Object.entries(s.selector).every(([k, v]) => w.labels[k] === v),
  );
}

/** The container port a probe names (a number, or the name of one of the container's ports). */
export function probePort(c: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const found = c.ports?.find((p) => p.name === port);
  if (found === undefined) throw new Error(`container ${c.name} has no port named ${port}`);
  return found.containerPort;
}

/**
 * The container's environment as the kubelet would set it: literal values, the pod name for
 * metadata.name, Secret keys from `secrets` (test values). Anything else is an error, so a manifest
 * change this test does not understand fails loudly rather than running with a variable missing.
 */
export function resolveEnv(
  c: Container,
  podName: string,
  secrets: Record<string, Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = podName;
    else if (v.valueFrom?.secretKeyRef) {
      const { name, key } = v.valueFrom.secretKeyRef;
      const value = secrets[name]?.[key];
      if (value === undefined)
        throw new Error(`${c.name}: env ${v.name} reads Secret ${name}/${key}, which has no test value`);
      env[v.name] = value;
    } else throw new Error(`${c.name}: env ${v.name} has a source test:deploy does not know: ${JSON.stringify(v)}`);
  }
  return env;
}
