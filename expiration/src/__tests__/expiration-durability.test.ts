import { Subjects, makeClientId, type Bus, createBus } from '@ticketing/common';
import {
  EventProbe,
  connectTestBus,
  eventually,
  natsTestConfig,
  silentLogger,
  testChannelPrefix,
} from '@ticketing/common/testing';
import type { ExpirationQueue } from '../queues/expiration-queue';
import { newId, startExpiration } from './harness';

let bus: Bus;
let probe: EventProbe;
const toClose: Array<() => Promise<void>> = [];

beforeAll(async () => {
  bus = await connectTestBus('expiration-durability');
  probe = new EventProbe(bus, [Subjects.ExpirationComplete]);
});

// Each test starts and stops its own workers, so no worker of an earlier test takes its jobs.
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(async () => {
  await bus.close();
});

async function started(queueBus: Bus, opts: Parameters<typeof startExpiration>[1] = {}): Promise<ExpirationQueue> {
  const expirations = await startExpiration(queueBus, opts);
  toClose.push(() => expirations.close());
  return expirations;
}

describe('expiration across a restart', () => {
  it('fires a job scheduled before the service restarted', async () => {
    const before = await started(bus);
    const orderId = newId();
    await before.schedule(orderId, new Date(Date.now() + 1_000));

    // The service goes away before the job is due, and a new one starts on the same Redis prefix.
    await before.close();
    expect(probe.of(Subjects.ExpirationComplete).map((e) => e.orderId)).not.toContain(orderId);
    await started(bus);

    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === orderId, 10_000);
  });

  it('fires a job that fell due while no worker was running', async () => {
    const queueOnly = await started(bus, { worker: false });
    const orderId = newId();
    const due = Date.now() + 100;
    await queueOnly.schedule(orderId, new Date(due));
    // Due while nothing runs: the job waits in Redis.
    await eventually(async () => {
      expect(Date.now()).toBeGreaterThan(due + 200);
      expect(await queueOnly.queue.getJobState(orderId)).toBe('delayed');
    });

    await queueOnly.start();

    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === orderId, 10_000);
  });
});

describe('expiration while the bus is away', () => {
  it('retries publishing with back-off until the bus takes the event', async () => {
    // A bus that is not connected yet: every publish is refused, as during an outage.
    const { transport, url, clusterId } = natsTestConfig();
    const lateBus = createBus({
      transport,
      url,
      clusterId,
      clientId: makeClientId('test-expiration-late'),
      logger: silentLogger,
      channelPrefix: testChannelPrefix(),
    });
    toClose.push(() => lateBus.close());
    const expirations = await started(lateBus, { retry: { minDelayMs: 50, maxDelayMs: 200 } });
    const orderId = newId();

    await expirations.schedule(orderId, new Date());
    await eventually(async () =>
      expect((await expirations.queue.getJob(orderId))?.attemptsMade).toBeGreaterThanOrEqual(3),
    );
    expect(probe.of(Subjects.ExpirationComplete).map((e) => e.orderId)).not.toContain(orderId);
    await lateBus.connect();

    await probe.waitFor(Subjects.ExpirationComplete, (e) => e.orderId === orderId, 10_000);
    await eventually(async () => expect(await expirations.queue.getJobState(orderId)).toBe('completed'));
  });
});
