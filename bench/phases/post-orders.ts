import { cookieFor } from '../lib/clients';
import { COUNT_COMMANDS, commandsPerRequest, profileFolder, profileRound, readCommandCounts } from '../lib/probes';
import { loadCounting, merge, perRequest, type Compared } from '../lib/compare';
import { pidsMatching, type ProcessGroups } from '../lib/cpu';
import { load, type LoadSpec } from '../lib/load';
import { step } from '../lib/log';
import type { Row } from '../lib/report';
import { loadRows } from '../lib/rows';
import { CONNECTIONS, ORDER_CPU_GOAL_MS, SECONDS } from '../lib/settings';
import { ratio, round } from '../lib/stats';
import type { BenchContext } from './context';

/** Phase 4: POST /api/orders, each request a ticket of its own, against the one-insert baseline. */
export async function postOrders(ctx: BenchContext): Promise<void> {
  const { target, baseline, ticketBody, settle, raw, rows } = ctx;
  await settle('POST /api/orders');
  const orderable = await orderableTickets(ctx);
  const perRound = Math.floor((orderable.length - 50) / 2);
  step(`POST /api/orders vs one insert (${orderable.length} tickets to order, 2 x ${SECONDS} s)...`);
  let next = 0;
  const orderBody = (): string => JSON.stringify({ ticketId: orderable[next++ % orderable.length] });
  const ordersSpec: LoadSpec = {
    url: `${target.urls.orders}/api/orders`,
    method: 'POST',
    nextBody: orderBody,
    // A buyer of its own for each order: one buyer holds at most MAX_ACTIVE_ORDERS_PER_USER unpaid orders.
    nextHeaders: () => ({ cookie: cookieFor(target) }),
    connections: CONNECTIONS,
    durationS: SECONDS,
    // Each request orders a ticket of its own: stop early when they run out.
    maxRequests: Math.max(CONNECTIONS, perRound),
  };
  const baselineInsert: LoadSpec = {
    url: `${baseline.url}/tickets`,
    method: 'POST',
    body: ticketBody,
    connections: CONNECTIONS,
    durationS: SECONDS,
  };
  await load({ ...baselineInsert, durationS: 1 });
  await load({ ...ordersSpec, durationS: 1, maxRequests: 50 });
  const { oursCpu, baselineCpu, counted } = orderCpuGroups(ctx);
  const cpuOurs: Record<string, number> = {};
  const cpuBaseline: Record<string, number> = {};
  await settle('a POST /api/orders round');
  const b1 = await loadCounting(baselineInsert, baselineCpu, cpuBaseline);
  await settle('a POST /api/orders round');
  const servicePids = Object.fromEntries(
    Object.entries(ctx.target.pids).filter((entry): entry is [string, number] => entry[1] !== undefined),
  );
  const commandsBefore = readCommandCounts(servicePids);
  // With BENCH_CPU_PROFILE=1, the services are profiled over this round and its digestion.
  const o1 = await profileRound(servicePids, async () => {
    const result = await loadCounting(ordersSpec, oursCpu, cpuOurs);
    await settle('a POST /api/orders round');
    return result;
  });
  const profiles = profileFolder();
  if (profiles !== undefined) ctx.notes.push(`CPU profiles of one POST /api/orders round: ${profiles}`);
  if (COUNT_COMMANDS) {
    // Read once the round is digested: what the orders' events caused downstream counts too. The
    // preload rewrites its counts every second.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    ctx.notes.push(
      'database commands per POST /api/orders (one round, until digested):',
      ...commandsPerRequest(commandsBefore, readCommandCounts(servicePids), o1.ok).map((line) => `  ${line}`),
    );
  }
  const b2 = await loadCounting(baselineInsert, baselineCpu, cpuBaseline);
  await settle('a POST /api/orders round');
  const o2 = await loadCounting(ordersSpec, oursCpu, cpuOurs);
  const orders: Compared = { ours: merge([o1, o2]), baseline: merge([b1, b2]) };
  raw['postOrders'] = { ...orders, orderable: orderable.length };
  rows.push(...loadRows('POST /api/orders', orders));
  if (counted)
    rows.push(...orderCpuRows(perRequest(cpuOurs, orders.ours.ok), perRequest(cpuBaseline, orders.baseline.ok)));
}

/** The processes an order's CPU is shown for, in this order (the others count in the total only). */
const CPU_BY_PROCESS = ['orders', 'tickets', 'payments', 'expiration', 'database', 'NATS'] as const;

/**
 * CPU per order, process by process, then in all (the goal). The orders service is set against the
 * baseline's process and the database against the baseline's share of it; the other processes have
 * no counterpart in the one-insert baseline. Work an order's events cause after the load ends is not
 * counted: a lower bound downstream.
 */
function orderCpuRows(cpu: Record<string, number>, base: Record<string, number>): Row[] {
  const counterpart: Record<string, number | undefined> = { orders: base['service'], database: base['database'] };
  const rows: Row[] = CPU_BY_PROCESS.filter((name) => cpu[name] !== undefined).map((name) => {
    const ours = cpu[name] as number;
    const baseline = counterpart[name];
    return {
      figure: `POST /api/orders CPU per order: ${name}`,
      unit: 'ms',
      ours,
      ...(baseline === undefined ? {} : { baseline, ratio: ratio(ours, baseline) }),
    };
  });
  const total = round(
    Object.values(cpu).reduce((sum, ms) => sum + ms, 0),
    2,
  );
  rows.push({
    figure: 'POST /api/orders CPU per request, all processes',
    unit: 'ms',
    ours: total,
    baseline: round(
      Object.values(base).reduce((sum, ms) => sum + ms, 0),
      2,
    ),
    goal: `<= ${ORDER_CPU_GOAL_MS} ms`,
    met: total <= ORDER_CPU_GOAL_MS,
    note: Object.entries(cpu)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `${name} ${ms} ms`)
      .join(', '),
  });
  return rows;
}

/** The real tickets (not the bus leg's) that the orders replica holds: each can be ordered once. */
async function orderableTickets({ ticketsDb, replica }: BenchContext): Promise<string[]> {
  const realIds = (
    await ticketsDb
      .collection('tickets')
      .find({}, { projection: { _id: 1 } })
      .toArray()
  ).map((t) => String(t._id));
  const replicated = new Set(
    (await replica.find({ userId: { $ne: 'bench' } }, { projection: { _id: 1 } }).toArray()).map((t) => String(t._id)),
  );
  return realIds.filter((id) => replicated.has(id));
}

/** CPU by process: where an order's work goes, the service that takes it and those its events reach. */
function orderCpuGroups({ target, baseline }: BenchContext): {
  oursCpu: ProcessGroups;
  baselineCpu: ProcessGroups;
  /** False without the services' pids (against BASE_URL). */
  counted: boolean;
} {
  const services = Object.entries(target.pids).filter((entry): entry is [string, number] => entry[1] !== undefined);
  const oursCpu: ProcessGroups = Object.fromEntries(services.map(([name, pid]) => [name, [pid]]));
  const database = pidsMatching('bin/ferretdb');
  if (services.length > 0) {
    oursCpu['database'] = database;
    oursCpu['NATS'] = pidsMatching('bin/nats-streaming-server');
    oursCpu['Redis'] = pidsMatching('redis-server');
  }
  const baselineCpu: ProcessGroups =
    baseline.pid === undefined || services.length === 0 ? {} : { service: [baseline.pid], database };
  return { oursCpu, baselineCpu, counted: services.length > 0 };
}
