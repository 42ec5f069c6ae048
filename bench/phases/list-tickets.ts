import { startServiceProcess } from '../../test/fault/support/service-process';
import { compare, JIT_WARMUP, type Compared } from '../lib/compare';
import { pidsMatching } from '../lib/cpu';
import { step } from '../lib/log';
import type { Row } from '../lib/report';
import { cpuRows, loadRows } from '../lib/rows';
import { LIST_CONNECTIONS, LIST_GOAL_P50_MS, LIST_LARGE_SIZE, SECONDS } from '../lib/settings';
import { ratio } from '../lib/stats';
import type { BenchContext } from './context';

const LABEL = 'GET /api/tickets?limit=20';

/** The goal row: the listing's p50 against 20 reads by bare _id on the same server. */
function goalRow(list: Compared, ticketCount: number): Row {
  return {
    figure: `${LABEL} p50 over ${ticketCount} tickets, vs 20 reads by _id`,
    unit: 'ms',
    ours: list.ours.p50,
    baseline: list.baseline.p50,
    ratio: ratio(list.ours.p50, list.baseline.p50),
    goal: `<= ${LIST_GOAL_P50_MS} ms`,
    met: list.ours.p50 <= LIST_GOAL_P50_MS,
  };
}

/**
 * Phase 2: GET /api/tickets?limit=20 against its physical path (20 reads by bare _id on the same
 * collection: the goal's baseline) and against the same query from a bare route (what a page cost
 * when the listing was a query: a collection scan on FerretDB).
 */
export async function listTickets(ctx: BenchContext): Promise<void> {
  const { target, baseline, ticketsDb, settle, raw, rows } = ctx;
  // of phase 1 are replicated and their outbox entries tidied (reads alone leave the relays idle,
  // so they would tidy during this phase, and the orders service would still be catching up).
  await settle(LABEL);
  const ticketCount = await ticketsDb.collection('tickets').estimatedDocumentCount();
  step(`${LABEL} vs 20 reads by _id and vs the bare query (${ticketCount} tickets)...`);
  const spec = { method: 'GET', connections: LIST_CONNECTIONS, durationS: Math.max(SECONDS, 10) } as const;
  const ours = { ...spec, url: `${target.urls.tickets}/api/tickets?limit=20` };
  const byId = await compare({ ...spec, url: `${baseline.url}/tickets/by-id?limit=20` }, ours, () =>
    settle('a GET /api/tickets round'),
  );
  // The bare query scans the collection on FerretDB (about 70 µs per ticket), so it keeps its two
  // connections and long rounds: ten connections only queued more scans.
  const sameQuery = await compare({ ...spec, url: `${baseline.url}/tickets?limit=20` }, ours, () =>
    settle('a GET /api/tickets round'),
  );
  raw['listTickets'] = { byId, sameQuery, ticketCount };
  rows.push(goalRow(byId, ticketCount));
  const [throughput, ...latency] = loadRows(`${LABEL} vs the bare query`, sameQuery);
  if (throughput !== undefined) rows.push({ ...throughput, note: `over ${ticketCount} tickets` });
  rows.push(...latency);
}

/**
 * The last phase: the listing over LIST_LARGE_SIZE tickets. The tickets are inserted straight into
 * the tickets database (through the API it would take minutes), then a second tickets process is
 * started on it: its listing reads the collection at start, as after a deploy. The bare query is
 * left out at this size (one scan would take seconds).
 */
export async function listTicketsLarge(ctx: BenchContext): Promise<void> {
  const { target, baseline, ticketsDb, raw, rows, notes } = ctx;
  if (target.ticketsEnv === undefined) {
    notes.push(`${LABEL} over ${LIST_LARGE_SIZE} tickets: own stack only (it starts a tickets process)`);
    return;
  }
  const collection = ticketsDb.collection('tickets');
  const existing = await collection.estimatedDocumentCount();
  const missing = Math.max(0, LIST_LARGE_SIZE - existing);
  step(`inserting ${missing} tickets for the ${LIST_LARGE_SIZE}-ticket listing...`);
  const seedStarted = Date.now();
  for (let done = 0; done < missing;) {
    const batch = Math.min(2_000, missing - done);
    await collection.insertMany(
      Array.from({ length: batch }, (_, i) => ({
        title: `Bench ticket ${done + i}`,
        priceCents: 2_000,
        userId: 'bench',
        version: 0,
        orders: [],
      })),
      { ordered: false },
    );
    done += batch;
  }
  const ticketCount = await collection.estimatedDocumentCount();
  const startStarted = Date.now();
  const second = await startServiceProcess('tickets', target.ticketsEnv, { readyTimeoutMs: 300_000 });
  const readyMs = Date.now() - startStarted;
  try {
    step(`${LABEL} over ${ticketCount} tickets vs 20 reads by _id...`);
    const spec = { method: 'GET', connections: LIST_CONNECTIONS, durationS: Math.max(SECONDS, 10) } as const;
    // Past JIT warm-up, as the other goal rows: the process is fresh, a deployed one is not. The CPU
    // per page (the tickets process against the baseline's, and the database's) is the steadier
    // figure on a shared machine; p50 is what the goal names.
    const database = pidsMatching('bin/ferretdb');
    const processes =
      baseline.pid === undefined
        ? undefined
        : { ours: { service: [second.pid], database }, baseline: { service: [baseline.pid], database } };
    const list = await compare(
      { ...spec, url: `${baseline.url}/tickets/by-id?limit=20` },
      { ...spec, url: `${second.url}/api/tickets?limit=20` },
      undefined,
      processes,
      JIT_WARMUP,
    );
    raw['listTicketsLarge'] = { ...list, ticketCount, seedMs: Date.now() - seedStarted, readyMs };
    rows.push({
      ...goalRow(list, ticketCount),
      note: `a fresh tickets process, ready in ${(readyMs / 1000).toFixed(1)} s`,
    });
    rows.push(...cpuRows(`${LABEL} over ${ticketCount} tickets`, list));
  } finally {
    await second.stop();
  }
}
