import path from 'node:path';
import { aptInstall, canAptInstall } from './infra-apt';
import { NATS_SERVER_TOOL, provideGoTool } from './infra-go-tools';
import { toolsBinDir } from './infra-paths';
import { findOnPath, isExecutableFile } from './infra-process';
import { MissingTool, type Log, type ToolName, type ToolStatus } from './infra-tool-names';

/**
 * The tools the installer takes from the system: redis-server and nats-server (JetStream), found in
 * .tools/bin or on PATH, else installed with apt-get where apt can run; nats-server falls back to a
 * Go build of the same version (infra-go-tools.ts).
 */

/** What an apt-get install that started at `started` provided. */
function installedWithApt(tool: ToolName, provider: string, found: string, started: number): ToolStatus {
  const seconds = Math.round((Date.now() - started) / 1000);
  return { tool, provider, path: found, source: 'apt', note: `installed with apt-get in ${seconds} s` };
}

export async function provideRedis(log: Log): Promise<ToolStatus> {
  const provider = 'redis-server';
  const local = path.join(toolsBinDir(), 'redis-server');
  if (isExecutableFile(local)) return { tool: 'redis', provider, path: local, source: 'tools', note: 'in .tools/bin' };
  const onPath = findOnPath('redis-server');
  if (onPath !== undefined) return { tool: 'redis', provider, path: onPath, source: 'path', note: 'on PATH' };

  if (canAptInstall()) {
    log('redis: installing redis-server with apt-get (first time only)...');
    const started = Date.now();
    const result = await aptInstall(['redis-server'], { log });
    if (!result.ok) throw new MissingTool(`redis: ${result.reason}`);
    const installed = findOnPath('redis-server') ?? ['/usr/bin/redis-server'].find(isExecutableFile);
    if (installed !== undefined) return installedWithApt('redis', provider, installed, started);
  }
  throw new MissingTool(
    'redis: redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; ' +
      'macOS: brew install redis), copy a redis-server binary into .tools/bin, or set REDIS_URL to a running server',
  );
}

/** Debian installs nats-server to /usr/sbin, which is not on every user's PATH. */
const DEBIAN_NATS_SERVER = '/usr/sbin/nats-server';

/**
 * nats-server (JetStream): .tools/bin, PATH or Debian's package (2.9.10 on bookworm) first; else
 * apt-get install nats-server where apt can run; else a Go build of the same version.
 */
export async function provideNatsServer(log: Log): Promise<ToolStatus> {
  const provider = 'nats-server';
  const local = path.join(toolsBinDir(), 'nats-server');
  if (isExecutableFile(local))
    return { tool: 'jetstream', provider, path: local, source: 'tools', note: 'in .tools/bin' };
  const installed = findOnPath('nats-server') ?? [DEBIAN_NATS_SERVER].find(isExecutableFile);
  if (installed !== undefined) return { tool: 'jetstream', provider, path: installed, source: 'path', note: 'on PATH' };

  if (canAptInstall()) {
    log('jetstream: installing nats-server with apt-get (first time only)...');
    const started = Date.now();
    const result = await aptInstall(['nats-server'], { log });
    const found = findOnPath('nats-server') ?? [DEBIAN_NATS_SERVER].find(isExecutableFile);
    if (result.ok && found !== undefined) return installedWithApt('jetstream', provider, found, started);
    if (!result.ok) log(`jetstream: ${result.reason}; trying a Go build instead`);
  }
  return provideGoTool('jetstream', provider, NATS_SERVER_TOOL, log, 'nats-server (JetStream)');
}
