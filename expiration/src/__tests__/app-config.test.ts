import { ConfigError, makeClientId, type ReadinessChecks, type Bus, createBus } from '@ticketing/common';
import { connectTestBus, natsTestConfig, silentLogger, testRedisUrl } from '@ticketing/common/testing';
import request from 'supertest';
import { buildApp } from '../app';
import { loadExpirationConfig, type ExpirationConfig } from '../config';
import type { ExpirationQueue } from '../queues/expiration-queue';
import { startExpiration } from './harness';

const validEnv = (): NodeJS.ProcessEnv => ({
  NATS_URL: natsTestConfig().url,
  REDIS_URL: testRedisUrl(),
  NODE_ENV: 'test',
});

describe('config', () => {
  it('lists every missing variable at once', () => {
    expect(() => loadExpirationConfig({})).toThrow(ConfigError);
    try {
      loadExpirationConfig({});
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(
        expect.arrayContaining([expect.stringMatching(/^NATS_URL/), expect.stringMatching(/^REDIS_URL/)]),
      );
    }
  });

  it('rejects a REDIS_URL that is not a redis:// URL', () => {
    expect(() => loadExpirationConfig({ ...validEnv(), REDIS_URL: 'http://localhost:6379' })).toThrow(
      /REDIS_URL must use redis:\/\/ or rediss:\/\//,
    );
  });

  it('defaults the queue prefix to bull and drops a trailing colon from a given one', () => {
    expect(loadExpirationConfig(validEnv()).EXPIRATION_QUEUE_PREFIX).toBe('bull');
    expect(loadExpirationConfig({ ...validEnv(), EXPIRATION_QUEUE_PREFIX: 't1234:' }).EXPIRATION_QUEUE_PREFIX).toBe(
      't1234',
    );
  });
});

describe('health routes', () => {
  let bus: Bus;
  let expirations: ExpirationQueue;
  let config: ExpirationConfig;
  let readiness: ReadinessChecks;

  beforeAll(async () => {
    config = loadExpirationConfig(validEnv());
    bus = await connectTestBus('expiration-health');
    expirations = await startExpiration(bus);
    readiness = { redis: () => expirations.isReady(), bus: () => bus.isConnected };
  });

  afterAll(async () => {
    await expirations.close();
    await bus.close();
  });

  it('GET /healthz answers 200', async () => {
    await request(buildApp(config, silentLogger, readiness))
      .get('/healthz')
      .expect(200, { status: 'ok' });
  });

  it('GET /readyz answers 200 when Redis and the bus are connected', async () => {
    const res = await request(buildApp(config, silentLogger, readiness))
      .get('/readyz')
      .expect(200);
    expect(res.body.checks).toEqual({ redis: true, bus: true });
  });

  it('GET /readyz answers 503 while the bus is not connected', async () => {
    const { transport, url, clusterId } = natsTestConfig();
    const offline = createBus({
      transport,
      url,
      clusterId,
      clientId: makeClientId('test-offline'),
      logger: silentLogger,
    });

    const res = await request(buildApp(config, silentLogger, { ...readiness, bus: () => offline.isConnected }))
      .get('/readyz')
      .expect(503);

    expect(res.body.checks).toEqual({ redis: true, bus: false });
  });

  it('GET /readyz answers 503 once the Redis connections are closed', async () => {
    const closed = await startExpiration(bus);
    await closed.close();

    const res = await request(buildApp(config, silentLogger, { ...readiness, redis: () => closed.isReady() }))
      .get('/readyz')
      .expect(503);

    expect(res.body.checks).toEqual({ redis: false, bus: true });
  });

  it('has no API: any other route is a JSON 404', async () => {
    const res = await request(buildApp(config, silentLogger, readiness))
      .post('/api/expirations')
      .expect(404);
    expect(res.body.errors[0].code).toBe('ROUTE_NOT_FOUND');
  });
});
