/** Starts redis-server (the expiration queue), with or without persistence. */
import { spawnManaged, startOnFreePort, waitUntilReady } from './infra-process';
import { redisPing } from './infra-probes';
import { externalServer, stderrLog } from './infra-tool-names';
import { ensureTool } from './infra-tools';
import { HOST, ensureDir, once, readyOpts, requireBinary, type CommonStartOptions } from './infra-start';

export interface StartRedisOptions extends CommonStartOptions {
  port?: number;
  /** Persist (append-only file) here when given; no persistence at all when absent. */
  dataDir?: string;
}

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const external = externalServer('redis');
  if (external !== undefined) return { url: external, stop: async () => {} };

  const tool = await ensureTool('redis', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'redis');
  const persistence = opts.dataDir === undefined ? undefined : ensureDir(opts.dataDir);
  return startOnFreePort(opts.port, async (port) => {
    const args = [
      ...['--port', String(port), '--bind', HOST, '--save', ''],
      ...(persistence === undefined ? ['--appendonly', 'no'] : ['--dir', persistence, '--appendonly', 'yes']),
    ];
    const proc = spawnManaged('redis-server', binary, args);
    await waitUntilReady(proc, `Redis on port ${port}`, () => redisPing(HOST, port), readyOpts(opts));
    return { url: `redis://${HOST}:${port}`, stop: once(() => proc.stop()) };
  });
}
