/**
 * The bus leg on NATS Streaming and on JetStream against a plain subscription of the same client,
 * without the rest of the bench: `npx tsx bench/event-latency.ts` (EVENT_BUS=stan or
 * EVENT_BUS=jetstream runs one). The same measurement is a phase of `npm run bench`
 * (`BENCH_ONLY=busTransports npm run bench`, which also starts the stack); see bench/README.md and
 * bench/lib/bus-transports.ts for what each path does. Starts its own servers.
 */
import { measureTransport, PLAIN_PATH, TRANSPORT_NAME, type Transport } from './lib/bus-transports';

const SAMPLES = Number(process.env['SAMPLES'] ?? 300);
const WARMUP = Number(process.env['WARMUP'] ?? 50);
const EVENTS = Number(process.env['EVENTS'] ?? 3_000);

/** The report goes to stdout, written directly (no console.* outside tests: see eslint.config.mjs). */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const which = process.env['EVENT_BUS'];
  const transports: Transport[] = which === 'stan' || which === 'jetstream' ? [which] : ['stan', 'jetstream'];
  const ms = (v: number): string => `${v.toFixed(3)} ms`.padStart(12);
  const perS = (v: number): string => `${v}/s`.padStart(12);
  const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`.padStart(12);
  print(
    `bus leg, publish → handler: ${SAMPLES} events one at a time (after ${WARMUP}), then ${EVENTS} with 64 outstanding; Node ${process.version}`,
  );
  for (const transport of transports) {
    const { server, bus, plain } = await measureTransport(transport, {
      samples: SAMPLES,
      warmup: WARMUP,
      events: EVENTS,
      window: 64,
    });
    print(`\n${TRANSPORT_NAME[transport]}: ${server}`);
    print(`${''.padEnd(40)}${'p50'.padStart(12)}${'p99'.padStart(12)}${'throughput'.padStart(12)}`);
    print(
      `${'Bus.publish → Listener.onMessage'.padEnd(40)}${ms(bus.latency.p50)}${ms(bus.latency.p99)}${perS(bus.perSecond)}`,
    );
    print(
      `${PLAIN_PATH[transport].padEnd(40)}${ms(plain.latency.p50)}${ms(plain.latency.p99)}${perS(plain.perSecond)}`,
    );
    print(
      `${'ratio (bus / plain)'.padEnd(40)}${x(bus.latency.p50, plain.latency.p50)}${x(bus.latency.p99, plain.latency.p99)}${x(bus.perSecond, plain.perSecond)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
