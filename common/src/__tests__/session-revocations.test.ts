import { Types } from 'mongoose';
import { SessionRevocations, Subjects, type Bus } from '../index';
import { connectTestBus, eventually, silentLogger } from '../testing';

/**
 * SessionRevocations against a real NATS Streaming server: revocations published on session:revoked
 * are applied by every instance (no queue group), an instance started later rebuilds them from the
 * channel before start() resolves, and an expired token's revocation is not kept.
 */

let publisher: Bus;
const buses: Bus[] = [];
const lists: SessionRevocations[] = [];

beforeAll(async () => {
  publisher = await connectTestBus('revocations-publisher');
});

afterAll(async () => {
  await Promise.all(lists.map((l) => l.stop()));
  await Promise.all([...buses, publisher].map((b) => b.close()));
});

async function startList(): Promise<SessionRevocations> {
  const bus = await connectTestBus('revocations');
  buses.push(bus);
  const list = new SessionRevocations({ bus, logger: silentLogger, lookbackSeconds: 3600 });
  lists.push(list);
  await list.start();
  return list;
}

const sid = (): string => new Types.ObjectId().toHexString();
const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();

function revoke(id: string, expiresAt = inAnHour()): Promise<string> {
  return publisher.publish(Subjects.SessionRevoked, { id, userId: 'u1', expiresAt });
}

describe('SessionRevocations', () => {
  it('applies a revocation in every running instance', async () => {
    const [a, b] = await Promise.all([startList(), startList()]);
    const revoked = sid();
    const other = sid();

    await revoke(revoked);

    await eventually(() => {
      expect(a.isRevoked(revoked)).toBe(true);
      expect(b.isRevoked(revoked)).toBe(true);
    });
    expect(a.isRevoked(other)).toBe(false);
  });

  it('rebuilds the list from the channel before start() resolves (a restarted process)', async () => {
    const earlier = sid();
    await revoke(earlier);

    const restarted = await startList();

    // No waiting: start() resolved only once the replay had caught up.
    expect(restarted.isRevoked(earlier)).toBe(true);
  });

  it('does not keep the revocation of a token that has expired anyway, and skips malformed messages', async () => {
    const expired = sid();
    await revoke(expired, new Date(Date.now() - 1_000).toISOString());
    await publisher.publish(Subjects.SessionRevoked, { id: 'not-an-id' });

    const list = await startList();

    expect(list.isRevoked(expired)).toBe(false);
    expect(list.isRevoked('not-an-id')).toBe(false);
  });
});
