import mongoose from 'mongoose';
import { contentionRound, cookieFor, newId, postTicket, waitForReplica } from '../lib/clients';
import { step } from '../lib/log';
import { BUYERS, CONTENTION_ROUNDS } from '../lib/settings';
import { ratio, round, summarise, type LatencySummary } from '../lib/stats';
import type { BenchContext } from './context';

interface Contention {
  ordersCreated: number[];
  created201: number;
  reserved400: number;
  other: string[];
  latency: LatencySummary;
}

/** Phase 5: 200 concurrent buyers for one ticket (x3) against 200 concurrent inserts under a unique index. */
export async function buyersForOneTicket(ctx: BenchContext): Promise<void> {
  const { target, baseline, ordersDb, replica, seller, settle, raw, rows } = ctx;
  const { agent } = await ctx.clients();
  await settle('contention');
  step(`${BUYERS} concurrent buyers for one ticket, ${CONTENTION_ROUNDS} times...`);
  const contested = await Promise.all(
    Array.from({ length: CONTENTION_ROUNDS }, (_, i) =>
      postTicket(target.urls.tickets, seller, agent, `Contested ${i}`),
    ),
  );
  const contestedIds = contested.map((id) => {
    if (id === undefined) throw new Error('could not create the contested tickets');
    return id;
  });
  await waitForReplica(replica, contestedIds);
  const contention: Contention = {
    ordersCreated: [],
    created201: 0,
    reserved400: 0,
    other: [],
    latency: summarise([]),
  };
  const baselineMs: number[] = [];
  const oursMs: number[] = [];
  for (const ticketId of contestedIds) {
    const buyers = Array.from({ length: BUYERS }, () => cookieFor(target));
    const base = await contentionRound(`${baseline.url}/reserve`, { ticketId: newId() }, buyers);
    baselineMs.push(...base.ms);
    const attempt = await contentionRound(`${target.urls.orders}/api/orders`, { ticketId }, buyers);
    oursMs.push(...attempt.ms);
    contention.created201 += attempt.statuses.filter((s) => s === 201).length;
    contention.reserved400 += attempt.statuses.filter((s) => s === 400).length;
    contention.other.push(...attempt.statuses.filter((s) => s !== 201 && s !== 400).map(String), ...attempt.errors);
    contention.ordersCreated.push(
      await ordersDb.collection('orders').countDocuments({ ticket: new mongoose.Types.ObjectId(ticketId) }),
    );
  }
  contention.latency = summarise(oursMs);
  const baselineContention = summarise(baselineMs);
  raw['contention'] = { ...contention, baseline: baselineContention };
  rows.push({
    figure: `${BUYERS} buyers, one ticket: orders created`,
    unit: '',
    ours: contention.ordersCreated.join(', '),
    goal: 'exactly 1 each',
    met: contention.ordersCreated.every((n) => n === 1) && contention.created201 === CONTENTION_ROUNDS,
    note:
      `${contention.created201} answered 201, ${contention.reserved400} answered 400 TICKET_RESERVED` +
      (contention.other.length > 0 ? `, others: ${contention.other.slice(0, 5).join('; ')}` : ''),
  });
  rows.push({
    figure: `${BUYERS} buyers, one ticket: p99`,
    unit: 'ms',
    ours: round(contention.latency.p99),
    baseline: round(baselineContention.p99),
    ratio: ratio(contention.latency.p99, baselineContention.p99),
    note: `p50 ${round(contention.latency.p50)} ms vs baseline ${round(baselineContention.p50)} ms (200 inserts under a unique index)`,
  });
}
