/** Starts MongoDB for the tests and `npm start`: FerretDB, or mongod when it is on PATH. */
import { spawnManaged, startOnFreePort, waitUntilReady } from './infra-process';
import { mongoPing } from './infra-probes';
import { externalServer, stderrLog } from './infra-tool-names';
import { ensureTool } from './infra-tools';
import { HOST, once, readyOpts, requireBinary, withDataDir, type CommonStartOptions } from './infra-start';

export interface StartMongoOptions extends CommonStartOptions {
  /** Keep the data here (created if needed); a temporary directory, deleted on stop, when absent. */
  dataDir?: string;
  port?: number;
}

export interface MongoServer {
  /** mongodb://127.0.0.1:PORT (no database: callers add their own). */
  uri: string;
  stop(): Promise<void>;
}

export async function startMongo(opts: StartMongoOptions = {}): Promise<MongoServer> {
  const external = externalServer('mongo');
  if (external !== undefined) return { uri: external, stop: async () => {} };

  const tool = await ensureTool('mongo', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'mongo');
  const isMongod = tool.provider === 'mongod';
  return withDataDir('mongo', opts.dataDir, (dir, release) =>
    startOnFreePort(opts.port, async (port) => {
      const args = isMongod
        ? ['--port', String(port), '--bind_ip', HOST, '--dbpath', dir, '--quiet']
        : ['-listen', `${HOST}:${port}`, '-dir', dir, '-log-level', 'warn', '-exit-on-stdin-eof'];
      const proc = spawnManaged(isMongod ? 'mongod' : 'FerretDB', binary, args, { stdinPipe: !isMongod });
      await waitUntilReady(proc, `Mongo on port ${port}`, () => mongoPing(HOST, port), readyOpts(opts));
      return {
        uri: `mongodb://${HOST}:${port}`,
        stop: once(async () => {
          await proc.stop();
          release();
        }),
      };
    }),
  );
}
