import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import nats from 'node-nats-streaming';
// Straight from the modules under test, not from the index: these tests must not depend on the rest of
// the testing kit compiling.
import { startNatsStreaming, startRedis } from './infra';
import {
  eventually,
  natsTestConfig,
  testDatabaseName,
  testMongoUri,
  testRedisUrl,
  testStripeUrl,
  withDatabase,
} from '@ticketing/common/testing';

/** Sends one inline command and returns the first reply line. */
function redisCommand(url: string, command: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(`${command}\r\n`));
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.trim());
      }
    });
    socket.on('error', reject);
  });
}

describe('the shared test servers', () => {
  describe('Mongo', () => {
    let client: MongoClient;

    beforeAll(async () => {
      client = await MongoClient.connect(testMongoUri(), { serverSelectionTimeoutMS: 5000 });
    });

    afterAll(async () => {
      await client.db().dropDatabase();
      await client.close();
    });

    it("connects to this file's own database", () => {
      expect(client.db().databaseName).toBe(testDatabaseName());
    });

    it('stores a document and reads it back', async () => {
      const tickets = client.db().collection<{ title: string; price: number }>('tickets');
      const { insertedId } = await tickets.insertOne({ title: 'concert', price: 20 });

      const found = await tickets.findOne({ _id: insertedId });

      expect(found).toMatchObject({ title: 'concert', price: 20 });
    });

    it('rejects a duplicate of a uniquely indexed field', async () => {
      const users = client.db().collection<{ email: string }>('users');
      await users.createIndex({ email: 1 }, { unique: true });
      await users.insertOne({ email: 'a@b.c' });

      await expect(users.insertOne({ email: 'a@b.c' })).rejects.toMatchObject({ code: 11000 });
    });
  });

  describe('NATS Streaming', () => {
    it('answers on its monitor endpoint with the configured cluster id', async () => {
      const monitorUrl = process.env['TEST_NATS_MONITOR_URL'] ?? '';
      if (monitorUrl === '') return; // An external NATS_URL without NATS_MONITOR_URL: nothing to ask.

      const res = await fetch(`${monitorUrl}/streaming/serverz`);

      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ cluster_id: natsTestConfig().clusterId });
    });
  });

  describe('Redis', () => {
    it('answers PING with PONG', async () => {
      expect(await redisCommand(testRedisUrl(), 'PING')).toBe('+PONG');
    });
  });

  describe('stripe-mock', () => {
    it('lists charges for a test secret key', async () => {
      const res = await fetch(`${testStripeUrl()}/v1/charges`, {
        headers: { Authorization: 'Bearer sk_test_123' },
      });

      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ object: 'list' });
    });
  });
});

// These start their own servers, so they only make sense when no external server is configured.
const ownNats = process.env['NATS_URL'] === undefined ? describe : describe.skip;
const ownRedis = process.env['REDIS_URL'] === undefined ? describe : describe.skip;

ownNats('startNatsStreaming with the file store', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ticketing-nats-test-'));
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('restarts on the same port and keeps the messages it stored', async () => {
    const server = await startNatsStreaming({ store: 'file', dataDir });
    try {
      const storez = async (): Promise<unknown> => (await fetch(`${server.monitorUrl}/streaming/storez`)).json();
      await publishOne(server.url, server.clusterId, 'infra-test.restart');
      expect(await storez()).toMatchObject({ type: 'FILE', total_msgs: 1 });
      const portBefore = server.port;

      await server.restart();

      expect(server.port).toBe(portBefore);
      expect(server.url).toBe(`nats://127.0.0.1:${portBefore}`);
      expect(await storez()).toMatchObject({ type: 'FILE', cluster_id: 'ticketing', total_msgs: 1 });
    } finally {
      await server.stop();
    }
    // A data directory the caller gave is theirs: stop() must not delete it.
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);
  });
});

/** Publishes one message and waits for the server's ack, then disconnects. */
async function publishOne(url: string, clusterId: string, subject: string): Promise<void> {
  const stan = nats.connect(clusterId, `infra-test-${process.pid}`, { url });
  try {
    await new Promise<void>((resolve, reject) => {
      stan.once('connect', () => resolve());
      stan.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      stan.publish(subject, 'hello', (error) => (error ? reject(error) : resolve()));
    });
  } finally {
    await new Promise<void>((resolve) => {
      stan.once('close', () => resolve());
      stan.close();
    });
  }
}

ownRedis('a starter whose server cannot start', () => {
  it("fails fast with the server's own output when the port is taken", async () => {
    // Drops every connection: an accepted socket that nobody reads would keep close() waiting.
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startRedis({ port })).rejects.toThrow(/redis-server exited[\s\S]*already in use/i);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('withDatabase', () => {
  it.each([
    ['mongodb://127.0.0.1:27017', 'mongodb://127.0.0.1:27017/db1'],
    ['mongodb://127.0.0.1:27017/', 'mongodb://127.0.0.1:27017/db1'],
    ['mongodb://127.0.0.1:27017/other?retryWrites=false', 'mongodb://127.0.0.1:27017/db1?retryWrites=false'],
    ['mongodb://u:p@h1:1,h2:2/?replicaSet=rs', 'mongodb://u:p@h1:1,h2:2/db1?replicaSet=rs'],
  ])('puts the database into %s', (uri, expected) => {
    expect(withDatabase(uri, 'db1')).toBe(expected);
  });
});

describe('testDatabaseName', () => {
  it('is short, stable within the file and made of [a-z0-9_]', () => {
    const name = testDatabaseName();

    expect(name).toMatch(/^[a-z0-9_]{1,38}$/);
    expect(name).toMatch(/^t_infra_infra_/);
    expect(testDatabaseName()).toBe(name);
  });
});

describe('eventually', () => {
  it('retries until the assertions pass and returns the result', async () => {
    let calls = 0;

    const result = await eventually(
      () => {
        calls += 1;
        expect(calls).toBeGreaterThanOrEqual(3);
        return calls;
      },
      { intervalMs: 5 },
    );

    expect(result).toBe(3);
  });

  it('awaits asynchronous attempts', async () => {
    let calls = 0;

    const result = await eventually(
      async () => {
        calls += 1;
        await Promise.resolve();
        if (calls < 2) throw new Error('not yet');
        return 'done';
      },
      { intervalMs: 5 },
    );

    expect(result).toBe('done');
  });

  it('rethrows the last error once the deadline has passed', async () => {
    let calls = 0;
    const started = Date.now();

    const error = await eventually(
      () => {
        calls += 1;
        throw new Error(`attempt ${calls}`);
      },
      { timeoutMs: 100, intervalMs: 10 },
    ).catch((e: unknown) => e);

    expect(error).toEqual(new Error(`attempt ${calls}`));
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('does not wait past the deadline for an attempt that never settles', async () => {
    const started = Date.now();

    await expect(eventually(() => new Promise<never>(() => {}), { timeoutMs: 100 })).rejects.toThrow(
      /still running after 100 ms/,
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
