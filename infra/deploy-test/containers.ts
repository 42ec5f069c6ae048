/**
 * The run's containers on its podman network: starting them with a workload's security context,
 * polling a probe as the kubelet would, and removing them (this run's, and those a killed run left).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { LABEL, network, repo, runId } from './context';
import { probePort, servicesOf, type Manifests, type Probe, type Workload } from './manifests';
import { podman, podmanOk } from './podman';
import { fail } from './report';

const containers: string[] = [];

export async function containerIp(name: string): Promise<string> {
  const ip = (
    await podmanOk(['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])
  ).trim();
  if (ip === '') fail(`${name} has no address on ${network}`);
  return ip;
}

export async function startContainer(name: string, args: string[]): Promise<string> {
  const full = `${runId}-${name}`;
  containers.push(full);
  await podmanOk(['run', '--detach', '--name', full, '--label', `${LABEL}=${runId}`, '--network', network, ...args]);
  return full;
}

export function securityArgs(w: Workload, opts: { imageUser: boolean; readOnly: boolean }): string[] {
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

export function aliases(m: Manifests, w: Workload): string[] {
  return servicesOf(m, w).flatMap((s) => ['--network-alias', s.name]);
}

export function logsOf(container: string): string {
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

export async function httpStatusOf(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status;
}

/** Polls the probe the way the kubelet would until it passes or the budget is spent; returns ms taken. */
export async function waitForProbe(
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

export async function cleanUp(): Promise<void> {
  for (const c of containers.reverse()) await podman(['rm', '--force', '--time', '0', c]);
  await podman(['network', 'rm', '--force', network]);
}

/** Containers and networks of earlier runs whose process is gone (killed before it cleaned up). */
export async function removeLeftovers(): Promise<void> {
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
