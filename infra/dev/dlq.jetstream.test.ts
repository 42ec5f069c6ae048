import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Listener, Subjects, type Bus, type OrderCancelledEvent } from '@ticketing/common';
import { connectTestBus, eventually, natsTestConfig, silentLogger, testChannelPrefix } from '@ticketing/common/testing';

/**
 * `npm run dlq` as an operator runs it: a real process against the run's JetStream server. A
 * listener fails a message until its one allowed delivery is used up; the command lists it with
 * its reason, replays it (the listener, healthy now, handles it) and then has nothing left.
 */

const root = path.resolve(__dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

function dlq(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      [path.join(root, 'infra', 'dev', 'dlq.ts'), ...args],
      { env: { ...process.env, NATS_URL: natsTestConfig().url }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

class Payments extends Listener<OrderCancelledEvent> {
  readonly subject = Subjects.OrderCancelled;
  readonly queueGroupName = 'payments-service';
  healthy = false;
  readonly handled: number[] = [];
  constructor(bus: Bus) {
    super(bus, silentLogger, { ackWaitMs: 1_000 });
  }
  async onMessage(data: OrderCancelledEvent['data']): Promise<void> {
    if (!this.healthy) throw new Error('ledger locked');
    this.handled.push(data.version);
  }
}

let bus: Bus;
const prefix = `${testChannelPrefix()}${randomBytes(3).toString('hex')}.`;

beforeAll(async () => {
  bus = await connectTestBus('dlq-command', { channelPrefix: prefix, maxDeliver: 1 });
});

afterAll(async () => {
  await bus?.close();
});

describe('npm run dlq', () => {
  it('lists a dead letter with its reason, replays it to its consumer, then lists nothing', async () => {
    const listener = new Payments(bus).listen();
    await bus.publish(Subjects.OrderCancelled, {
      id: '64b7f0c2a1b2c3d4e5f60718',
      version: 3,
      ticket: { id: '64b7f0c2a1b2c3d4e5f60719' },
    });

    const listed = await eventually(
      async () => {
        const result = await dlq(['list', '--prefix', prefix]);
        expect(result.out).toContain('payments-service_order_cancelled');
        return result;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('Error: ledger locked');
    expect(listed.out).toMatch(/^1\t/m);

    expect(await dlq(['replay', 'x1', '--prefix', prefix])).toMatchObject({ code: 2 });
    listener.healthy = true;
    const replayed = await dlq(['replay', '1', '--prefix', prefix]);

    expect(replayed).toMatchObject({ code: 0, out: expect.stringContaining('replayed 1 dead letter') });
    await eventually(() => expect(listener.handled).toEqual([3]));
    expect((await dlq(['list', '--prefix', prefix])).out).toContain('no dead letters');
  }, 90_000);
});
