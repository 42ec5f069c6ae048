import { FERRETDB, NATS_TOOL, STRIPE_TOOL, provideGoTool } from './infra-go-tools';
import { findOnPath } from './infra-process';
import { provideNatsServer, provideRedis } from './infra-system-tools';
import {
  EXTERNAL_SERVER_ENV,
  MissingTool,
  externalServer,
  stderrLog,
  type Log,
  type ToolName,
  type ToolStatus,
} from './infra-tool-names';

export { findOnPath } from './infra-process';

/**
 * Finds or installs the server binaries the tests and the dev stack run. Everything we build goes to
 * <repo>/.tools/bin (git-ignored), pinned, so a fresh clone gets the same servers as CI and a second
 * run installs nothing. This file decides how each tool is provided; the names and statuses are in
 * infra-tool-names.ts, the paths in infra-paths.ts, the Go builds in infra-go-tools.ts and the apt
 * and PATH lookups in infra-system-tools.ts.
 */

const inFlight = new Map<ToolName, Promise<ToolStatus>>();

/**
 * Makes sure each requested tool can run, installing only what is missing, and logs where each one is.
 * Throws one Error listing every tool that could not be provided and how to provide it.
 */
export async function ensureTools(
  which: readonly ToolName[],
  log: Log = stderrLog,
  opts: { reportStatus?: boolean } = {},
): Promise<ToolStatus[]> {
  const statuses: ToolStatus[] = [];
  const problems: string[] = [];
  // One after the other: builds are CPU-bound and would only slow each other down.
  for (const tool of which) {
    try {
      const status = await ensureTool(tool, log);
      statuses.push(status);
      if (opts.reportStatus !== false) {
        log(`${tool.padEnd(6)} ${status.provider.padEnd(21)} ${status.path ?? '-'} (${status.note})`);
      }
    } catch (error) {
      problems.push(error instanceof MissingTool ? error.message : `${tool}: ${String(error)}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`Test infrastructure is missing:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  return statuses;
}

/**
 * The same for one tool, shared by concurrent callers in this process (two starters racing must not
 * build the same binary twice). Progress of slow installs goes to `log`.
 */
export function ensureTool(tool: ToolName, log: Log = stderrLog): Promise<ToolStatus> {
  const pending = inFlight.get(tool);
  if (pending !== undefined) return pending;
  const promise = provideTool(tool, log).finally(() => inFlight.delete(tool));
  inFlight.set(tool, promise);
  return promise;
}

async function provideTool(tool: ToolName, log: Log): Promise<ToolStatus> {
  const external = externalServer(tool);
  if (external !== undefined) {
    return {
      tool,
      provider: 'external server',
      path: undefined,
      source: 'env',
      note: `${EXTERNAL_SERVER_ENV[tool]} is set`,
    };
  }
  switch (tool) {
    case 'mongo': {
      const mongod = findOnPath('mongod');
      if (mongod !== undefined) return { tool, provider: 'mongod', path: mongod, source: 'path', note: 'on PATH' };
      return provideGoTool(
        tool,
        'FerretDB',
        FERRETDB,
        log,
        'FerretDB (the MongoDB-compatible server used when mongod is not on PATH)',
      );
    }
    case 'nats':
      return provideGoTool(tool, 'nats-streaming-server', NATS_TOOL, log, 'nats-streaming-server');
    case 'stripe':
      return provideGoTool(tool, 'stripe-mock', STRIPE_TOOL, log, 'stripe-mock');
    case 'redis':
      return provideRedis(log);
    case 'jetstream':
      return provideNatsServer(log);
  }
}
