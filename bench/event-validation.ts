/**
 * What checking an event's payload costs a listener: `npx tsx bench/event-validation.ts` (build
 * common first: `npm run build -w common`). No server needed; not part of the test suite.
 *
 * Runs each check on realistic payloads (what the services publish) and prints operations per
 * second, the median of ROUNDS rounds of ITERATIONS calls each, the variants alternating round by
 * round so that drift (GC, CPU frequency, the other processes on a shared machine) hits all alike:
 *
 *   - hand-written: the checks common/src/events/validate.ts had before the schemas (copied below,
 *     unchanged), a closure per field walked with Object.entries;
 *   - compiled: isValidEventData, i.e. the TypeBox schemas of events.ts compiled by TypeCompiler,
 *     what every listener runs now;
 *   - interpreted: TypeBox's Value.Check on the same schemas, without compiling (for scale);
 *   - JSON.parse of the envelope: what the listener does anyway before the check (for scale).
 *
 * A rejected payload also gets eventDataProblem, the message naming the failing field, which the
 * listener builds only for poison.
 */
import { performance } from 'node:perf_hooks';
import { Value } from '@sinclair/typebox/value';
import {
  OrderStatus,
  Subjects,
  assertNever,
  eventDataProblem,
  eventSchemas,
  isValidEventData,
  type EventData,
} from '@ticketing/common';

const ROUNDS = Number(process.env['ROUNDS'] ?? 15);
const ITERATIONS = Number(process.env['ITERATIONS'] ?? 200_000);

// ---- The hand-written checks, as validate.ts had them (commit 9a7ff53). ----
type Check = (v: unknown) => boolean;
const OBJECT_ID = /^[a-f0-9]{24}$/i;
const isId: Check = (v) => typeof v === 'string' && OBJECT_ID.test(v);
const isVersion: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const isText: Check = (v) => typeof v === 'string' && v.length > 0;
const isPrice: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isIsoDate: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isBoolean: Check = (v) => typeof v === 'boolean';
const isStatus: Check = (v) => Object.values(OrderStatus).includes(v as OrderStatus);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
const shape =
  (fields: Record<string, Check>): Check =>
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Object.entries(fields).every(([key, check]) => check((v as Record<string, unknown>)[key]));

function checkFor(subject: Subjects): Check {
  switch (subject) {
    case Subjects.TicketCreated:
      return shape({ id: isId, version: isVersion, title: isText, price: isPrice, userId: isText });
    case Subjects.TicketUpdated:
      return shape({
        id: isId,
        version: isVersion,
        title: isText,
        price: isPrice,
        userId: isText,
        orderId: optional(isId),
        sold: optional(isBoolean),
      });
    case Subjects.OrderCreated:
      return shape({
        id: isId,
        version: isVersion,
        status: isStatus,
        userId: isText,
        expiresAt: isIsoDate,
        ticket: shape({ id: isId, price: isPrice }),
      });
    case Subjects.OrderCancelled:
    case Subjects.OrderCompleted:
      return shape({ id: isId, version: isVersion, ticket: shape({ id: isId }) });
    case Subjects.ExpirationComplete:
      return shape({ orderId: isId });
    case Subjects.PaymentCreated:
      return shape({ id: isId, orderId: isId, stripeId: isText });
    case Subjects.SessionRevoked:
      return shape({ id: isId, userId: isText, expiresAt: isIsoDate });
    default:
      return assertNever(subject);
  }
}
const handWritten = new Map<Subjects, Check>(Object.values(Subjects).map((s) => [s, checkFor(s)]));
const handWrittenCheck = (subject: Subjects, data: unknown): boolean => handWritten.get(subject)?.(data) ?? false;
// ---- end of the hand-written checks ----

const interpretedCheck = (subject: Subjects, data: unknown): boolean =>
  Value.Check(eventSchemas[subject].properties.data, data);

interface Case {
  name: string;
  subject: Subjects;
  data: unknown;
  valid: boolean;
}

const ticketUpdated: EventData<Subjects.TicketUpdated> = {
  id: '692f2b6e4f1c2a0012a3b4c5',
  version: 2,
  title: 'Radiohead, Wembley, standing',
  price: 89.5,
  userId: '692f2a014f1c2a0012a3b4aa',
  orderId: '692f2b9a4f1c2a0012a3b4d0',
};
const orderCreated: EventData<Subjects.OrderCreated> = {
  id: '692f2b9a4f1c2a0012a3b4d0',
  version: 0,
  status: OrderStatus.Created,
  userId: '692f2a014f1c2a0012a3b4bb',
  expiresAt: '2026-12-02T18:15:00.000Z',
  ticket: { id: '692f2b6e4f1c2a0012a3b4c5', price: 89.5 },
};
const orderCancelled: EventData<Subjects.OrderCancelled> = {
  id: '692f2b9a4f1c2a0012a3b4d0',
  version: 1,
  ticket: { id: '692f2b6e4f1c2a0012a3b4c5' },
};

const cases: Case[] = [
  { name: 'ticket:updated (held)', subject: Subjects.TicketUpdated, data: ticketUpdated, valid: true },
  { name: 'order:created', subject: Subjects.OrderCreated, data: orderCreated, valid: true },
  { name: 'order:cancelled', subject: Subjects.OrderCancelled, data: orderCancelled, valid: true },
  {
    name: 'order:created, bad ticket.id (poison)',
    subject: Subjects.OrderCreated,
    data: { ...orderCreated, ticket: { id: 'not-an-id', price: 89.5 } },
    valid: false,
  },
];

type Variant = [name: string, run: (c: Case) => unknown];
const variants: Variant[] = [
  ['hand-written', (c) => handWrittenCheck(c.subject, c.data)],
  ['compiled (TypeBox)', (c) => isValidEventData(c.subject, c.data)],
  ['interpreted (Value.Check)', (c) => interpretedCheck(c.subject, c.data)],
];

/** Calls per second of one variant over one round; `sink` keeps the results alive. */
let sink = 0;
function round(run: (c: Case) => unknown, c: Case, iterations: number): number {
  const start = performance.now();
  for (let i = 0; i < iterations; i += 1) if (run(c)) sink += 1;
  return iterations / ((performance.now() - start) / 1000);
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
/** The report goes to stdout, written directly (no console.* outside tests: see eslint.config.mjs). */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function main(): void {
  // Every variant must agree with the expectation before its speed means anything.
  for (const c of cases)
    for (const [name, run] of variants) if (Boolean(run(c)) !== c.valid) throw new Error(`${name} got ${c.name} wrong`);

  print(`${ROUNDS} rounds × ${ITERATIONS.toLocaleString('en-US')} calls, median ops/s (node ${process.version})`);
  for (const c of cases) {
    const envelope = JSON.stringify({ id: 'e', subject: c.subject, time: new Date().toISOString(), data: c.data });
    const all: Variant[] = [
      ...variants,
      ['JSON.parse of the envelope', () => JSON.parse(envelope) as unknown],
      ...(c.valid ? [] : [['eventDataProblem', (x: Case) => eventDataProblem(x.subject, x.data)] as Variant]),
    ];
    const results = new Map<string, number[]>(all.map(([name]) => [name, []]));
    for (const [, run] of all) round(run, c, Math.min(ITERATIONS, 20_000)); // warm-up
    for (let r = 0; r < ROUNDS; r += 1)
      for (const [name, run] of all) results.get(name)?.push(round(run, c, ITERATIONS));
    const base = median(results.get('hand-written') ?? []);
    print(`\n${c.name}`);
    for (const [name, xs] of results) {
      const m = median(xs);
      print(`  ${name.padEnd(28)} ${fmt(m).padStart(12)} ops/s  ${(m / base).toFixed(2)}× hand-written`);
    }
  }
  if (sink < 0) print(String(sink));
}

main();
