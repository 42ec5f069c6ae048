import { performance } from 'node:perf_hooks';
import mongoose from 'mongoose';
import { sleep } from './clients';

/**
 * Waits until the system has digested the previous phase: no event left in an outbox, and the
 * orders replica at the tickets service's version of every ticket. Each phase then starts from a
 * quiet system (and how long the digestion took is a figure of its own, pushed to `settling`).
 */
export function settler(args: {
  ticketsDb: mongoose.mongo.Db;
  ordersDb: mongoose.mongo.Db;
  replica: mongoose.mongo.Collection;
  settling: string[];
}): (before: string) => Promise<void> {
  const { ticketsDb, ordersDb, replica, settling } = args;
  return async (before: string): Promise<void> => {
    const started = Date.now();
    const deadline = started + 60_000;
    let behind = Number.NaN;
    for (;;) {
      const [pendingTickets, pendingOrders, owners, copies] = await Promise.all([
        // Published and tidied off the documents (the relays do that once idle): later phases then
        // read documents of their usual size.
        ticketsDb.collection('tickets').countDocuments({ 'outbox.0': { $exists: true } }),
        ordersDb.collection('orders').countDocuments({ 'outbox.0': { $exists: true } }),
        ticketsDb
          .collection('tickets')
          .find({}, { projection: { version: 1 } })
          .toArray(),
        replica.find({}, { projection: { version: 1 } }).toArray(),
      ]);
      const replicated = new Map(copies.map((t) => [String(t._id), t['version'] as number]));
      behind = owners.filter((t) => (replicated.get(String(t._id)) ?? -1) < (t['version'] as number)).length;
      if (pendingTickets + pendingOrders + behind === 0) break;
      if (Date.now() > deadline) {
        settling.push(`${before}: NOT settled after 60 s (${behind} tickets behind in the replica)`);
        return;
      }
      await sleep(250);
    }
    // Queries the previous phase left running (a load tool stops sending, the server goes on with
    // what it was given: a list query is a collection scan on FerretDB) would slow the next phase
    // down: wait until a point read answers at once, three times in a row.
    for (let quick = 0; quick < 3 && Date.now() < deadline; await sleep(20)) {
      const asked = performance.now();
      await ticketsDb.collection('tickets').findOne({ _id: new mongoose.Types.ObjectId() });
      quick = performance.now() - asked < 5 ? quick + 1 : 0;
    }
    const ms = Date.now() - started;
    if (ms > 1_000) settling.push(`${before}: waited ${(ms / 1000).toFixed(1)} s for the previous phase's events`);
  };
}
