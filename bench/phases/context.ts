import http from 'node:http';
import mongoose from 'mongoose';
import type { Stan } from 'node-nats-streaming';
import { makeClientId, type Bus, StanBus } from '../../common/src';
import { silentLogger } from '../../common/src/testing';
import { startBaseline, type BaselineServer } from '../lib/baseline';
import { connectStan, cookieFor } from '../lib/clients';
import { log, stackLog } from '../lib/log';
import type { PropagationResult } from '../lib/propagation';
import type { Row } from '../lib/report';
import { settler } from '../lib/settle';
import { openTarget, type Target } from '../lib/target';

/**
 * What every phase works with: the system under test, its databases, the baseline server, and what
 * the phases fill in (rows of the table, raw results for results.json, notes). Opened once by run.ts;
 * everything opened is undone by `close`, in reverse order, whatever happened.
 */

export interface BenchContext {
  target: Target;
  ticketsDb: mongoose.mongo.Db;
  ordersDb: mongoose.mongo.Db;
  baselineDb: mongoose.mongo.Db;
  /** The orders service's replica of tickets, where propagation is read. */
  replica: mongoose.mongo.Collection;
  baseline: BaselineServer;
  /** The seller's session cookie and a ticket body, shared by the phases that create tickets. */
  seller: string;
  ticketBody: string;
  /** Waits until the previous phase is digested (see lib/settle.ts); `before` names what comes next. */
  settle(before: string): Promise<void>;
  /** Opened by the first phase that needs them (event propagation), then shared. */
  clients(): Promise<Clients>;
  rows: Row[];
  raw: Record<string, unknown>;
  /** Propagation runs by name, filled by both propagation phases (raw.propagation). */
  propagations: Record<string, PropagationResult>;
  notes: string[];
  /** What waiting between phases took, when it was noticeable. */
  settling: string[];
}

export interface Clients {
  agent: http.Agent;
  /** A plain node-nats-streaming client (the baseline's publisher); undefined without NATS_URL. */
  stan: Stan | undefined;
  /** Our Bus, for events published straight onto it (own stack only). */
  bus: Bus | undefined;
}

/** Starts the stack (or reaches BASE_URL), connects to its databases and starts the baseline server. */
export async function openBench(cleanups: Array<() => Promise<void>>): Promise<BenchContext> {
  const target = await openTarget(stackLog);
  cleanups.push(() => target.stop());
  const connections = await Promise.all(
    [target.db.tickets, target.db.orders, target.db.baseline].map((name) =>
      mongoose.createConnection(target.mongoUri, { dbName: name, maxPoolSize: 20 }).asPromise(),
    ),
  );
  cleanups.push(async () => {
    await Promise.all(connections.map((c) => c.close()));
  });
  const [ticketsDb, ordersDb, baselineDb] = connections.map((c) => {
    if (c.db === undefined) throw new Error('no database handle');
    return c.db;
  }) as [mongoose.mongo.Db, mongoose.mongo.Db, mongoose.mongo.Db];
  const replica = ordersDb.collection('tickets');
  const settling: string[] = [];

  const baseline: BaselineServer = await startBaseline({
    mongoUri: target.mongoUri,
    baselineDb: target.db.baseline,
    ticketsDb: target.db.tickets,
    ordersDb: target.db.orders,
    ...(target.nats === undefined ? {} : { nats: target.nats }),
  });
  cleanups.push(async () => {
    await baselineDb.dropDatabase().catch(() => undefined);
    await baseline.stop();
  });

  let clients: Promise<Clients> | undefined;
  return {
    target,
    ticketsDb,
    ordersDb,
    baselineDb,
    replica,
    baseline,
    seller: cookieFor(target),
    ticketBody: JSON.stringify({ title: 'Bench concert', price: 20 }),
    settle: settler({ ticketsDb, ordersDb, replica, settling }),
    clients: () => (clients ??= openClients(target, cleanups)),
    rows: [],
    raw: {},
    propagations: {},
    notes: [...target.notes],
    settling,
  };
}

async function openClients(target: Target, cleanups: Array<() => Promise<void>>): Promise<Clients> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  cleanups.push(async () => agent.destroy());
  const stan = target.nats === undefined ? undefined : await connectStan(target.nats.url, target.nats.clusterId);
  if (stan !== undefined) cleanups.push(async () => stan.close());
  const bus =
    target.mode === 'stack' && target.nats !== undefined
      ? new StanBus({ ...target.nats, clientId: makeClientId('bench'), logger: silentLogger })
      : undefined;
  if (bus !== undefined) {
    await bus.connect();
    cleanups.push(() => bus.close());
  }
  return { agent, stan, bus };
}

/** Runs every cleanup, the last registered first; a failing one is reported and the rest still run. */
export async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      log(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
