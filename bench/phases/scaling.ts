import { ensureBuilt, startServiceProcess } from '../../test/fault/support/service-process';
import { drain } from '../lib/clients';
import { step } from '../lib/log';
import { SCALING_EVENTS } from '../lib/settings';
import { ratio } from '../lib/stats';
import type { BenchContext } from './context';

/** Phase 6 (own stack only): how fast the orders queue group drains ticket:created with one process, then two. */
export async function queueGroupScaling(ctx: BenchContext): Promise<void> {
  const { target, replica, settle, raw, rows, notes } = ctx;
  const { bus } = await ctx.clients();
  if (bus !== undefined && target.ordersEnv !== undefined) {
    await settle('scaling');
    step(`scaling: ${SCALING_EVENTS} ticket:created drained by 1, then 2 orders processes...`);
    await ensureBuilt(['orders']);
    const one = await drain(bus, replica, SCALING_EVENTS);
    const second = await startServiceProcess('orders', target.ordersEnv);
    let two: { ms: number; rate: number };
    try {
      two = await drain(bus, replica, SCALING_EVENTS);
    } finally {
      await second.stop();
    }
    raw['scaling'] = { events: SCALING_EVENTS, one, two };
    rows.push({
      figure: `orders queue group drain, 1 → 2 processes`,
      unit: 'events/s',
      ours: two.rate,
      baseline: one.rate,
      ratio: ratio(two.rate, one.rate),
      note:
        `${SCALING_EVENTS} ticket:created each: ${one.ms} ms with one process, ${two.ms} ms with two ` +
        '(the baseline column is the single process)',
    });
  } else {
    notes.push('scaling skipped: it needs a stack of its own (no BASE_URL)');
  }
}
