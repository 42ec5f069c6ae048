import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBus, makeClientId, type Bus, type Subjects } from '@ticketing/common';
import type { BusServer } from '@ticketing/devinfra';
import { silentLogger } from '@ticketing/common/testing';
import mongoose from 'mongoose';

/**
 * What the fault-test files share besides processes: a bus client on a private server (no channel
 * prefix: the services under test publish and listen on the real channel names), a read-only view of
 * a service's database, and throw-away data directories.
 */

export async function connectPrivateBus(server: BusServer, name: string): Promise<Bus> {
  const bus = createBus({
    transport: server.transport,
    url: server.url,
    clusterId: server.clusterId,
    clientId: makeClientId(`fault-${name}`),
    logger: silentLogger,
    pingIntervalMs: 500,
    maxPingOut: 3,
    retryDelayMs: { min: 50, max: 500 },
  });
  await bus.connect();
  return bus;
}

/** Counts events per subject as the server delivers them (a plain subscription from the start). */
export class EventCounter {
  private readonly ids = new Map<string, string[]>();

  constructor(bus: Bus, subjects: Subjects[]) {
    for (const subject of subjects) {
      this.ids.set(subject, []);
      bus.subscribe({ subject, ackWaitMs: 30_000, maxInFlight: 4096 }, (msg) => {
        msg.ack();
        const envelope = JSON.parse(msg.data) as { data: { id?: string } };
        this.ids.get(subject)?.push(envelope.data.id ?? '');
      });
    }
  }

  /** The record ids carried by the events of `subject` received so far (with repeats). */
  idsOf(subject: Subjects): string[] {
    return this.ids.get(subject) ?? [];
  }
}

export interface Database {
  db: mongoose.mongo.Db;
  close(): Promise<void>;
}

/** A plain driver connection to one database, to look at what a service stored. */
export async function openDatabase(uri: string): Promise<Database> {
  const connection = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5_000 }).asPromise();
  const db = connection.db;
  if (db === undefined) throw new Error(`no database handle for ${uri}`);
  return {
    db,
    close: async () => {
      await connection.close();
    },
  };
}

/** A temporary directory, removed by the returned function. */
export function tempDir(name: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ticketing-fault-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const newId = (): string => new mongoose.Types.ObjectId().toHexString();

/** Resolves after `ms`: only for deliberate waits (an outage's length), never to synchronise. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Figures for a human (FAULT_FIGURES=1 prints them); tests never assert on timings. */
export function figure(line: string): void {
  if (process.env['FAULT_FIGURES'] === '1') process.stderr.write(`[figure] ${line}\n`);
}
