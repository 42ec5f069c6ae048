import {
  measureTransport,
  PLAIN_PATH,
  TRANSPORT_NAME,
  type BusLegOptions,
  type Transport,
  type TransportFigures,
} from '../lib/bus-transports';
import { step } from '../lib/log';
import { ratio, round } from '../lib/stats';
import type { BenchContext } from './context';

/**
 * The bus leg on both transports (issue 17): Bus.publish → Listener.onMessage on NATS Streaming and
 * on JetStream, each against a plain subscription of the same client library on the same server
 * (bench/lib/bus-transports.ts says exactly what each path does). Latency one event at a time (p50,
 * p99) and throughput with 64 publishes outstanding. The servers are the bench's own, started here
 * (nats-streaming-server and nats-server from the test harness's tools), not the stack's: the
 * figures are the bus's, whatever runs behind BASE_URL. `BENCH_BUS_TRANSPORTS=jetstream` runs one.
 */

const OPTIONS: BusLegOptions = {
  samples: Number(process.env['BENCH_BUS_SAMPLES'] ?? 300),
  warmup: 50,
  events: Number(process.env['BENCH_BUS_EVENTS'] ?? 10_000),
  window: 64,
};

const transports = (): Transport[] => {
  const wanted = (process.env['BENCH_BUS_TRANSPORTS'] ?? 'stan,jetstream').split(',');
  return (['stan', 'jetstream'] as const).filter((t) => wanted.includes(t));
};

export async function busTransports(ctx: BenchContext): Promise<void> {
  const { rows } = ctx;
  const results: TransportFigures[] = [];
  ctx.raw['busTransports'] = { options: OPTIONS, results };
  await ctx.settle('the bus leg on both transports');
  for (const transport of transports()) {
    step(`bus leg on ${TRANSPORT_NAME[transport]}: ${OPTIONS.samples} events one at a time, then throughput...`);
    const figures = await measureTransport(transport, OPTIONS);
    results.push(figures);
    const name = `bus on ${TRANSPORT_NAME[transport]} (publish → handler)`;
    const vs = `baseline: ${PLAIN_PATH[transport]}`;
    for (const q of ['p50', 'p99'] as const) {
      rows.push({
        figure: `${name} ${q}`,
        unit: 'ms',
        ours: round(figures.bus.latency[q], 2),
        baseline: round(figures.plain.latency[q], 2),
        ratio: ratio(figures.bus.latency[q], figures.plain.latency[q]),
        ...(q === 'p50' ? { note: `${vs}; ${figures.bus.latency.count} events one at a time, same server` } : {}),
      });
    }
    rows.push({
      figure: `${name} throughput`,
      unit: 'events/s',
      ours: figures.bus.perSecond,
      baseline: figures.plain.perSecond,
      ratio: ratio(figures.bus.perSecond, figures.plain.perSecond),
      note: `${OPTIONS.events} events per run, ${OPTIONS.window} publishes outstanding, median of 4 runs each`,
    });
  }
}
