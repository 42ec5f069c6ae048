import type { BaselineServer } from '../lib/baseline';
import { compare, JIT_WARMUP } from '../lib/compare';
import { pidsMatching, type ProcessGroups } from '../lib/cpu';
import { step } from '../lib/log';
import { cpuRows, loadRows } from '../lib/rows';
import { CONNECTIONS, SECONDS } from '../lib/settings';
import type { Target } from '../lib/target';
import type { BenchContext } from './context';

/** Phase 1: POST /api/tickets (closed loop) against a bare route doing one insert, past JIT warm-up. */
export async function postTickets(ctx: BenchContext): Promise<void> {
  const { target, baseline, seller, ticketBody, settle, raw, rows } = ctx;
  step(
    `POST /api/tickets vs one insert (${CONNECTIONS} connections, ${JIT_WARMUP.maxRequests ?? 0} warm-up requests, 2 x ${SECONDS} s each)...`,
  );
  const tickets = await compare(
    {
      url: `${baseline.url}/tickets`,
      method: 'POST',
      body: ticketBody,
      connections: CONNECTIONS,
      durationS: SECONDS,
    },
    {
      url: `${target.urls.tickets}/api/tickets`,
      method: 'POST',
      body: ticketBody,
      headers: { cookie: seller },
      connections: CONNECTIONS,
      durationS: SECONDS,
    },
    () => settle('a POST /api/tickets round'),
    postTicketsProcesses(target, baseline),
    JIT_WARMUP,
  );
  raw['postTickets'] = tickets;
  rows.push(...loadRows('POST /api/tickets', tickets, { min: 0.6 }));
  rows.push(...cpuRows('POST /api/tickets', tickets));
}

/**
 * Who spends the CPU of a POST /api/tickets (own stack on Linux only): the tickets process against
 * the baseline's, the database server (the same one for both), and what the event costs downstream
 * (the orders service applying it, NATS Streaming), which the baseline has no counterpart for.
 */
function postTicketsProcesses(
  target: Target,
  baseline: BaselineServer,
): { ours: ProcessGroups; baseline: ProcessGroups } | undefined {
  const { tickets, orders } = target.pids;
  if (tickets === undefined || orders === undefined || baseline.pid === undefined) {
    return undefined;
  }
  const database = pidsMatching('bin/ferretdb');
  const downstream = [orders, ...pidsMatching('bin/nats-streaming-server')];
  return {
    ours: { service: [tickets], database, downstream },
    baseline: { service: [baseline.pid], database },
  };
}
