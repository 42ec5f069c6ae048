import type { Stan } from 'node-nats-streaming';
import { BASELINE_CHANNEL } from '../lib/baseline';
import { newId, postTicket, publishRaw, TicketCreatedPublisher } from '../lib/clients';
import { step } from '../lib/log';
import { propagation, type PropagationResult } from '../lib/propagation';
import { propagationRows } from '../lib/rows';
import { CONNECTIONS, PROPAGATION_GOAL_RATIO, SECONDS } from '../lib/settings';
import { ratio, round } from '../lib/stats';
import type { BenchContext } from './context';

/**
 * Phase 3: event propagation, open loop at 100 and 500 tickets/s offered, against a plain
 * node-nats-streaming publish → subscriber → insert. First through the tickets service (POST answered
 * → the ticket in the orders replica), then the bus leg alone (Bus.publish acked → replica written).
 */

const RATES = [100, 500] as const;
const propagationMs = Math.min(2_000, SECONDS * 400);

/**
 * How a propagation run at `rate` is timed: about 100 records a second are followed to the
 * replica, a uniform sample (every n-th record). Following every record at 500/s took the bench
 * 1.5 replica reads per record, about half a core with the database's share, and measured that
 * load as much as the system: in the same test 324-341/s were achieved with p99 118-120 ms,
 * against 397-457/s and 50-54 ms timing one record in five. A sampled run lasts twice as long.
 */
function timing(rate: number): { durationMs: number; sampleEvery: number } {
  const sampleEvery = Math.max(1, Math.round(rate / 100));
  return { durationMs: sampleEvery > 1 ? 2 * propagationMs : propagationMs, sampleEvery };
}

/** The plain publish → subscriber → insert path at `rate`: the baseline of both propagation figures. */
async function baselinePropagation(
  ctx: BenchContext,
  stan: Stan | undefined,
  rate: number,
): Promise<PropagationResult | undefined> {
  return stan === undefined
    ? undefined
    : propagation({
        rate,
        ...timing(rate),
        replica: ctx.baselineDb.collection('replica'),
        create: async () => {
          const id = newId();
          await publishRaw(stan, BASELINE_CHANNEL, { id, title: 'Baseline', price: 20 });
          return id;
        },
      });
}

/** POST /api/tickets → the orders replica, and what the seller's client waits in all. */
export async function propagationOverHttp(ctx: BenchContext): Promise<void> {
  const { target, replica, seller, settle, rows, propagations } = ctx;
  const { agent, stan } = await ctx.clients();
  ctx.raw['propagation'] = propagations;
  await settle('event propagation');
  for (const rate of RATES) {
    step(`event propagation at ${rate}/s offered (${timing(rate).durationMs} ms of creations)...`);
    const viaHttp = await propagation({
      rate,
      ...timing(rate),
      replica,
      // Past twice the load phases' connections the service only queues: what it can do is measured.
      maxOutstanding: 2 * CONNECTIONS,
      create: (i) => postTicket(target.urls.tickets, seller, agent, `Propagation ${rate}/${i}`),
    });
    // The baseline at the rate the service actually sustained, so that the two are comparable.
    const base = await baselinePropagation(ctx, stan, Math.max(1, Math.min(rate, Math.round(viaHttp.achievedRate))));
    propagations[`http@${rate}`] = viaHttp;
    if (base !== undefined) propagations[`baseline-at-achieved@${rate}`] = base;
    rows.push(
      ...propagationRows(
        `propagation @${rate}/s (POST answered → replica)`,
        viaHttp,
        base,
        rate === 500 ? PROPAGATION_GOAL_RATIO : undefined,
      ),
    );
    // What the seller's client waits in all: it does not shift when the service answers before
    // or after its publish is acked (the outbox answers once the ticket and its event are stored).
    for (const q of ['p50', 'p99'] as const) {
      rows.push({
        figure: `propagation @${rate}/s (POST sent → replica) ${q}`,
        unit: 'ms',
        ours: round(viaHttp.endToEnd[q]),
        ...(base === undefined
          ? {}
          : { baseline: round(base.endToEnd[q]), ratio: ratio(viaHttp.endToEnd[q], base.endToEnd[q]) }),
      });
    }
  }
}

/**
 * The bus leg alone: events published straight onto the bus, at the offered rate whatever the
 * tickets service sustains. These tickets exist only in the orders replica: removed afterwards so
 * that they do not weigh on the phases below.
 */
export async function propagationBusLeg(ctx: BenchContext): Promise<void> {
  const { replica, settle, rows, propagations } = ctx;
  const { bus, stan } = await ctx.clients();
  if (bus === undefined) return;
  const publisher = new TicketCreatedPublisher(bus);
  for (const rate of RATES) {
    await settle(`the bus leg of propagation at ${rate}/s`);
    step(`bus leg of propagation at ${rate}/s...`);
    const base = await baselinePropagation(ctx, stan, rate);
    if (base !== undefined) propagations[`baseline@${rate}`] = base;
    const busLeg = await propagation({
      rate,
      ...timing(rate),
      replica,
      create: async (i) => {
        const id = newId();
        await publisher.publish({ id, version: 0, title: `Bus ${rate}/${i}`, price: 20, userId: 'bench' });
        return id;
      },
    });
    propagations[`bus@${rate}`] = busLeg;
    rows.push(...propagationRows(`propagation @${rate}/s (bus leg: publish acked → replica)`, busLeg, base));
  }
  await replica.deleteMany({ userId: 'bench' });
}
