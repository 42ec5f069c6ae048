/**
 * The vocabulary the tool installer's files share (infra-tools.ts and the providers it calls): the
 * tools by name, how one is provided, the log the installer writes progress to, the environment
 * variables that point at servers someone else runs, and the error for a tool that cannot be provided.
 */

export type ToolName = 'mongo' | 'nats' | 'jetstream' | 'redis' | 'stripe';
export const ALL_TOOLS: readonly ToolName[] = ['mongo', 'nats', 'jetstream', 'redis', 'stripe'];

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => {
  process.stderr.write(`${line}\n`);
};

/** How a tool is provided. */
export interface ToolStatus {
  tool: ToolName;
  /** The server program: "FerretDB", "mongod", "nats-streaming-server", ... */
  provider: string;
  /** Absolute path of the binary; undefined when an environment variable points at a running server. */
  path: string | undefined;
  source: 'env' | 'path' | 'tools' | 'built' | 'apt';
  /** A few words for humans: "already installed", "built in 58 s", "MONGO_URI is set". */
  note: string;
}

/** Environment variables that point at servers someone else runs; when set we start nothing. */
export const EXTERNAL_SERVER_ENV: Record<ToolName, string> = {
  mongo: 'MONGO_URI',
  nats: 'NATS_URL',
  jetstream: 'NATS_JETSTREAM_URL',
  redis: 'REDIS_URL',
  stripe: 'STRIPE_MOCK_URL',
};

export function externalServer(tool: ToolName): string | undefined {
  const value = process.env[EXTERNAL_SERVER_ENV[tool]];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Raised for a tool that cannot be provided; the message says how to provide it. */
export class MissingTool extends Error {}
