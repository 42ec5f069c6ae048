import { compare } from '../lib/compare';
import { step } from '../lib/log';
import { loadRows } from '../lib/rows';
import { LIST_CONNECTIONS, SECONDS } from '../lib/settings';
import type { BenchContext } from './context';

/** Phase 2: GET /api/tickets?limit=20 against the same query on the same collection from a bare route. */
export async function listTickets(ctx: BenchContext): Promise<void> {
  const { target, baseline, ticketsDb, settle, raw, rows } = ctx;
  // of phase 1 are replicated and their outbox entries tidied (reads alone leave the relays idle,
  // so they would tidy during this phase, and the orders service would still be catching up).
  await settle('GET /api/tickets');
  const ticketCount = await ticketsDb.collection('tickets').estimatedDocumentCount();
  step(`GET /api/tickets?limit=20 vs the bare query (${ticketCount} tickets, ${LIST_CONNECTIONS} connections)...`);
  // On FerretDB this query is a collection scan of about 70 µs per ticket (it pushes down neither
  // the filter nor the sort), so over the ~10,000 tickets phase 1 leaves a query takes most of a
  // second. Two connections and longer rounds keep answers coming within each round; ten
  // connections only queued more scans (the same throughput, with latencies longer than a round).
  const listSpec = { method: 'GET', connections: LIST_CONNECTIONS, durationS: Math.max(SECONDS, 10) } as const;
  const list = await compare(
    { ...listSpec, url: `${baseline.url}/tickets?limit=20` },
    { ...listSpec, url: `${target.urls.tickets}/api/tickets?limit=20` },
    () => settle('a GET /api/tickets round'),
  );
  raw['listTickets'] = { ...list, ticketCount };
  const [listThroughput, ...listLatency] = loadRows('GET /api/tickets?limit=20', list);
  if (listThroughput !== undefined) rows.push({ ...listThroughput, note: `over ${ticketCount} tickets` });
  rows.push(...listLatency);
}
