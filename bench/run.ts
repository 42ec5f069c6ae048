/**
 * `npm run bench`: load and event benchmarks of the ticketing system, each figure a ratio against a
 * baseline measured in the same run (the machines are shared and noisy; absolute numbers are not
 * comparable between runs, ratios mostly are). Prints a table and writes bench/results.json.
 *
 *   npm run bench                              own stack (ephemeral), about 5 minutes on 2 cores
 *   BASE_URL=http://127.0.0.1:3000 MONGO_URI=mongodb://127.0.0.1:PORT npm run bench
 *                                              a running system (see bench/lib/target.ts)
 *   BENCH_SECONDS=3 npm run bench              shorter load phases (default 5 s each)
 *   BENCH_ONLY=listTicketsLarge npm run bench  only the phases named (comma-separated function names)
 *   BENCH_COUNT_COMMANDS=1 / BENCH_CPU_PROFILE=1  bench-only probes in the services over one POST
 *                                              /api/orders round: database commands, CPU profiles
 *                                              (see lib/probes.ts and bench/profile-summary.ts)
 *
 * The baselines run in their own process (bench/lib/baseline-server.ts) on the same Mongo server and
 * bus. What is measured, and against what:
 *   1. POST /api/tickets (closed loop, 10 connections) vs a bare Express route doing one insertOne,
 *      each measured after 5,000 warm-up requests (see JIT_WARMUP). Goal: >= 0.6x its throughput.
 *   2. GET /api/tickets?limit=20 vs 20 reads by bare _id on the same collection (its physical path;
 *      goal: p50 <= 20 ms), and vs the same query from a bare route (a collection scan on FerretDB).
 *   3. Event propagation, open loop at 100 and 500 tickets/s offered: POST /api/tickets answered →
 *      the ticket in the orders service's replica (read by _id from the orders database), vs a plain
 *      node-nats-streaming publish → plain subscriber inserting into a collection, offered the rate
 *      the service sustained. Goal at 500/s: p99 <= 1x the plain subscriber's at the rate the stack
 *      sustained. Then the bus leg alone (Bus.publish acked →
 *      replica written) at the offered rates, vs the same baseline at those rates. About 100 records
 *      a second are timed: all of them at 100/s, one in five at 500/s (see phases/event-propagation.ts).
 *   4. POST /api/orders, each request a different ticket, vs the one-insert baseline, with its CPU per
 *      order by process (orders, tickets, payments, expiration, database, NATS). Goal: <= 10 ms in all.
 *   5. 200 concurrent buyers for one ticket (x3): orders created (must be 1) and p99, vs 200
 *      concurrent inserts under a unique index.
 *   6. Scaling (own stack only): how fast the orders service's queue group drains 1,500 ticket:created
 *      events with one process, then with two.
 *   7. A buyer's GET /api/orders?limit=20 among 100,000 orders of 1,000 buyers (BENCH_LIST_ORDERS),
 *      inserted into the orders database with each buyer's list, vs 20 orders and their 20 tickets
 *      read by _id. Goal: p50 <= 20 ms. The old `{ userId }` query is timed alone.
 *   8. The listing over 100,000 tickets (BENCH_LIST_TICKETS; own stack only): inserted into the
 *      tickets database, served by a fresh tickets process, vs 20 reads by _id. Goal: p50 <= 20 ms.
 * Before each phase the bench waits until the previous one is digested (outboxes published and tidied, the orders
 * replica at the tickets service's versions) and reports how long that took when it was noticeable.
 *
 * Each phase is a file of bench/phases/; this file only lists them in the order they run.
 */
import { log, step } from './lib/log';
import { printAndSave } from './lib/summary';
import { busTransports } from './phases/bus-transports';
import { buyersForOneTicket } from './phases/contention';
import { openBench, runCleanups, type BenchContext } from './phases/context';
import { propagationBusLeg, propagationOverHttp } from './phases/event-propagation';
import { listOrdersLarge } from './phases/list-orders';
import { listTickets, listTicketsLarge } from './phases/list-tickets';
import { postOrders } from './phases/post-orders';
import { postTickets } from './phases/post-tickets';
import { queueGroupScaling } from './phases/scaling';

const PHASES: ReadonlyArray<(ctx: BenchContext) => Promise<void>> = [
  postTickets, // 1
  listTickets, // 2
  propagationOverHttp, // 3
  propagationBusLeg, // 3, the bus leg
  postOrders, // 4
  buyersForOneTicket, // 5
  queueGroupScaling, // 6
  busTransports, // the bus leg on NATS Streaming and JetStream vs plain subscriptions (bench/README.md)
  listOrdersLarge, // 7: near the end, since FerretDB scans its 100,000 orders in every other orders query
  listTicketsLarge, // 8: last, since its 100,000 tickets would slow every phase after it (and settle)
];

async function main(): Promise<void> {
  const benchStarted = Date.now();
  const cleanups: Array<() => Promise<void>> = [];
  step('starting the stack...');
  let ctx: BenchContext;
  try {
    ctx = await openBench(cleanups);
    const only = (process.env['BENCH_ONLY'] ?? '').split(',').filter((name) => name !== '');
    for (const phase of PHASES) if (only.length === 0 || only.includes(phase.name)) await phase(ctx);
  } finally {
    step('stopping...');
    await runCleanups(cleanups);
  }
  printAndSave(ctx, benchStarted);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
