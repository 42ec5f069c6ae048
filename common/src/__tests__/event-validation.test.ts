import { OrderStatus, Subjects, eventDataProblem, isValidEventData, type EventData } from '..';

/**
 * What the listeners accept as a payload and what they set aside as poison, field by field. Valid
 * samples are accepted as they are and with fields the contract does not know (a newer publisher may
 * add some: forward compatibility); each mutation below must be rejected unless it says otherwise.
 */
const ID = '64b7f0c2a1b2c3d4e5f60718';
const OTHER_ID = '64B7F0C2A1B2C3D4E5F60719';
const WHEN = '2026-12-02T18:00:00.000Z';

const samples: { [S in Subjects]: EventData<S> } = {
  [Subjects.TicketCreated]: { id: ID, version: 0, title: 'Concert', price: 19.99, userId: 'u1' },
  [Subjects.TicketUpdated]: {
    id: ID,
    version: 3,
    title: 'Concert',
    price: 20,
    userId: 'u1',
    orderId: OTHER_ID,
    sold: true,
  },
  [Subjects.OrderCreated]: {
    id: ID,
    version: 0,
    status: OrderStatus.Created,
    userId: 'u1',
    expiresAt: WHEN,
    ticket: { id: OTHER_ID, price: 19.99 },
  },
  [Subjects.OrderCancelled]: { id: ID, version: 1, ticket: { id: OTHER_ID } },
  [Subjects.OrderCompleted]: { id: ID, version: 2, ticket: { id: OTHER_ID } },
  [Subjects.ExpirationComplete]: { orderId: ID },
  [Subjects.PaymentCreated]: { id: ID, orderId: OTHER_ID, stripeId: 'ch_123' },
  [Subjects.SessionRevoked]: { id: ID, userId: 'u1', expiresAt: WHEN },
};

/** A path into the payload ('ticket.id') and the value put there; undefined removes the field. */
type Mutation = [path: string, value: unknown];

const BAD_IDS: unknown[] = [undefined, null, '', 'x', ID.slice(1), `${ID}0`, `${ID.slice(1)}g`, 42, { $oid: ID }];
const BAD_VERSIONS: unknown[] = [undefined, null, -1, 1.5, '1', true, []];
const BAD_TEXTS: unknown[] = [undefined, null, '', 7, ['a'], {}];
const BAD_PRICES: unknown[] = [undefined, null, 0, -1, '19.99', {}];
const BAD_DATES: unknown[] = [undefined, null, '', 'not a date', '2026-13-45T99:00:00Z', 1764700000000];
const BAD_BOOLEANS: unknown[] = [null, 'true', 1, 0];

const each = (path: string, values: unknown[]): Mutation[] => values.map((v) => [path, v]);

const rejected: { [S in Subjects]: Mutation[] } = {
  [Subjects.TicketCreated]: [
    ...each('id', BAD_IDS),
    ...each('version', BAD_VERSIONS),
    ...each('title', BAD_TEXTS),
    ...each('price', BAD_PRICES),
    ...each('userId', BAD_TEXTS),
  ],
  [Subjects.TicketUpdated]: [
    ...each('id', BAD_IDS),
    ...each('version', BAD_VERSIONS),
    ...each('title', BAD_TEXTS),
    ...each('price', BAD_PRICES),
    ...each('userId', BAD_TEXTS),
    ...each('orderId', BAD_IDS.slice(1)),
    ...each('sold', BAD_BOOLEANS),
  ],
  [Subjects.OrderCreated]: [
    ...each('id', BAD_IDS),
    ...each('version', BAD_VERSIONS),
    ...each('status', [undefined, null, '', 'Created', 'expired', 0]),
    ...each('userId', BAD_TEXTS),
    ...each('expiresAt', BAD_DATES),
    ...each('ticket', [undefined, null, 'x', []]),
    ...each('ticket.id', BAD_IDS),
    ...each('ticket.price', BAD_PRICES),
  ],
  [Subjects.OrderCancelled]: [
    ...each('id', BAD_IDS),
    ...each('version', BAD_VERSIONS),
    ...each('ticket', [undefined, null, 'x']),
    ...each('ticket.id', BAD_IDS),
  ],
  [Subjects.OrderCompleted]: [
    ...each('id', BAD_IDS),
    ...each('version', BAD_VERSIONS),
    ...each('ticket', [undefined, null, 'x']),
    ...each('ticket.id', BAD_IDS),
  ],
  [Subjects.ExpirationComplete]: each('orderId', BAD_IDS),
  [Subjects.PaymentCreated]: [...each('id', BAD_IDS), ...each('orderId', BAD_IDS), ...each('stripeId', BAD_TEXTS)],
  [Subjects.SessionRevoked]: [...each('id', BAD_IDS), ...each('userId', BAD_TEXTS), ...each('expiresAt', BAD_DATES)],
};

/** Values the contract accepts although a stricter reading might not: today's behaviour, kept. */
const accepted: { [S in Subjects]?: Mutation[] } = {
  [Subjects.TicketCreated]: [
    ['id', ID.toUpperCase()],
    ['version', 1e6],
    ['price', 0.01],
    ['price', 1234.5678],
    ['title', ' '],
  ],
  [Subjects.TicketUpdated]: [
    ['orderId', undefined],
    ['sold', undefined],
    ['sold', false],
  ],
  [Subjects.OrderCreated]: [
    ...Object.values(OrderStatus).map((s): Mutation => ['status', s]),
    // Any string Date.parse reads: the contract says ISO-8601, the check only that it is a date.
    ['expiresAt', '2026-12-02'],
    ['expiresAt', 'Wed, 02 Dec 2026 18:00:00 GMT'],
  ],
  [Subjects.OrderCancelled]: [['ticket.price', 'anything: not part of this contract']],
};

function mutate(data: object, [path, value]: Mutation): unknown {
  const copy = structuredClone(data) as Record<string, unknown>;
  const keys = path.split('.');
  const last = keys.pop() as string;
  let target = copy;
  for (const key of keys) target = target[key] as Record<string, unknown>;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

const subjects = Object.values(Subjects);
const show = (m: Mutation): string => `${m[0]} = ${m[1] === undefined ? '(absent)' : JSON.stringify(m[1])}`;

describe('event payload validation', () => {
  it.each(subjects)('accepts a valid %s payload, also with fields it does not know', (subject) => {
    expect(isValidEventData(subject, samples[subject])).toBe(true);
    expect(isValidEventData(subject, { ...samples[subject], addedLater: { nested: [1, 2] } })).toBe(true);
  });

  it.each(subjects)('rejects a %s payload that is not an object', (subject) => {
    for (const data of [undefined, null, 'x', 1, true, [], [samples[subject]]])
      expect([JSON.stringify(data), isValidEventData(subject, data)]).toEqual([JSON.stringify(data), false]);
  });

  it.each(subjects)('rejects a %s payload with any field missing or wrong', (subject) => {
    for (const m of rejected[subject])
      expect([show(m), isValidEventData(subject, mutate(samples[subject], m))]).toEqual([show(m), false]);
  });

  it.each(subjects)('accepts the edge values of a %s payload that the contract allows', (subject) => {
    for (const m of accepted[subject] ?? [])
      expect([show(m), isValidEventData(subject, mutate(samples[subject], m))]).toEqual([show(m), true]);
  });

  it("rejects another subject's payload", () => {
    expect(isValidEventData(Subjects.OrderCreated, samples[Subjects.OrderCancelled])).toBe(false);
    expect(isValidEventData(Subjects.TicketCreated, samples[Subjects.ExpirationComplete])).toBe(false);
  });

  it.each(subjects)('names the failing field of a rejected %s payload, and nothing for a valid one', (subject) => {
    expect(eventDataProblem(subject, samples[subject])).toBeUndefined();
    for (const m of rejected[subject]) {
      const problem = eventDataProblem(subject, mutate(samples[subject], m));
      expect([show(m), problem?.startsWith(`${m[0]}: `)]).toEqual([show(m), true]);
    }
  });

  it('says what is wrong with the field', () => {
    const cancelled = samples[Subjects.OrderCancelled];
    expect(eventDataProblem(Subjects.OrderCancelled, { ...cancelled, ticket: { id: 'x' } })).toBe(
      "ticket.id: Expected string to match '^[a-fA-F0-9]{24}$'",
    );
    expect(eventDataProblem(Subjects.OrderCancelled, mutate(cancelled, ['version', undefined]))).toBe(
      'version: Expected required property',
    );
    expect(eventDataProblem(Subjects.OrderCancelled, { ...cancelled, version: -1 })).toBe(
      'version: Expected integer to be greater or equal to 0',
    );
    expect(eventDataProblem(Subjects.OrderCancelled, null)).toBe('payload: Expected object');
  });
});
