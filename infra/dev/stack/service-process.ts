import path from 'node:path';
import { repoRoot } from '../lib/infra';
import { expectHttp200 } from '../lib/infra-probes';
import { freePort, spawnManaged, startOnFreePort, waitUntilReady, type ManagedProcess } from '../lib/infra-process';
import type { ServiceName } from './types';

/**
 * One service run as production runs it: `node <name>/dist/main.js` in its own process, configured
 * through its environment, spawned by the harness's process spawner (so it cannot outlive this
 * process) and ready once GET /readyz answers 200 (Mongo and the bus connected). The dev stack and
 * the fault tests (test/fault/support/service-process.ts) both start services through here.
 */

export interface LaunchOptions {
  /** The service's whole environment, given the port it is started on. */
  env: (port: number) => NodeJS.ProcessEnv;
  /** A fixed port (a restarted service keeps its address); a free one when absent. */
  port?: number;
  /** The port of its /metrics (METRICS_PORT); a free one when absent. */
  metricsPort?: number;
  /** When readiness must have been reached (Date.now() time). */
  deadline: number;
  /** How often /readyz is asked; 100 ms by default. */
  intervalMs?: number;
  /** Each line the service writes, as it arrives. */
  onLine?: (line: string) => void;
  /** Called once per spawn (a port clash spawns again, on another port), before readiness. */
  onSpawn?: (proc: ManagedProcess, port: number, metricsPort: number) => void;
}

export interface LaunchedService {
  proc: ManagedProcess;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Where its Prometheus metrics are: http://127.0.0.1:METRICS_PORT/metrics */
  metricsUrl: string;
  metricsPort: number;
}

/**
 * Rejects with a StartError carrying the service's output when it exits or is not ready by the
 * deadline (it is killed then); a port taken between choosing and binding is retried on another.
 */
export async function launchService(name: ServiceName, opts: LaunchOptions): Promise<LaunchedService> {
  const root = repoRoot();
  const main = path.join(root, name, 'dist', 'main.js');
  return startOnFreePort(opts.port, async (port) => {
    // Five services on one host cannot share the default 9464: each gets a port of its own (a clash
    // is an "address already in use" like the API port's, retried on new ports).
    const metricsPort = opts.metricsPort ?? (await freePort());
    const proc = spawnManaged(name, process.execPath, [main], {
      cwd: path.join(root, name),
      env: { ...opts.env(port), METRICS_PORT: String(metricsPort) },
      ...(opts.onLine === undefined ? {} : { onLine: opts.onLine }),
    });
    opts.onSpawn?.(proc, port, metricsPort);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(proc, `${name} on port ${port}`, () => expectHttp200(`${url}/readyz`), {
      timeoutMs: Math.max(0, opts.deadline - Date.now()),
      intervalMs: opts.intervalMs ?? 100,
    });
    return { proc, port, url, metricsPort, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
  });
}
