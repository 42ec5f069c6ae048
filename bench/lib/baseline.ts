import path from 'node:path';
import { spawnManaged, waitUntilReady, repoRoot } from '@ticketing/devinfra';

/** The channel the baseline subscriber listens on (not one of the system's). */
export const BASELINE_CHANNEL = 'bench.baseline.ticket-created';

export interface BaselineServer {
  url: string;
  /** The server's process (CPU accounting). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface BaselineOptions {
  mongoUri: string;
  baselineDb: string;
  ticketsDb: string;
  ordersDb: string;
  nats?: { url: string; clusterId: string };
}

/** Starts bench/lib/baseline-server.ts in its own process (through tsx) and waits for its port. */
export async function startBaseline(opts: BaselineOptions): Promise<BaselineServer> {
  const root = repoRoot();
  const proc = spawnManaged(
    'baseline server',
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench', 'lib', 'baseline-server.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        MONGO_URI: opts.mongoUri,
        BASELINE_DB: opts.baselineDb,
        TICKETS_DB: opts.ticketsDb,
        ORDERS_DB: opts.ordersDb,
        NATS_URL: opts.nats?.url ?? '',
        NATS_CLUSTER_ID: opts.nats?.clusterId ?? '',
      },
    },
  );
  let port = 0;
  await waitUntilReady(
    proc,
    'the baseline server',
    async () => {
      const match = /\{"port":(\d+)\}/.exec(proc.output());
      if (match === null) throw new Error('no port yet');
      port = Number(match[1]);
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { url: `http://127.0.0.1:${port}`, pid: proc.pid, stop: () => proc.stop(3_000) };
}
