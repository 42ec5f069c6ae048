import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { busServerEnv, startBusServer, type BusServer, StartError } from '@ticketing/devinfra';
import { TEST_JWT_KEY, testBusTransport, testMongoUri } from '@ticketing/common/testing';
import { ensureBuilt, startServiceProcess } from './support/service-process';

/**
 * A service whose API port is taken when it starts must fail its start (exit 1, "address already in
 * use"), so the harness retries on another port and an operator sees why. It once logged "listening"
 * and ran on without its API, while the process holding the port (another service's metrics server,
 * answering 404) took its readiness probes until the stack's deadline.
 */

let nats: BusServer;
let blocker: http.Server;

beforeAll(async () => {
  [nats] = await Promise.all([startBusServer(testBusTransport(), { store: 'memory' }), ensureBuilt(['tickets'])]);
  // Bound like a service's servers (no host: every address), answering as a metrics server does.
  blocker = http.createServer((_req, res) => res.writeHead(404).end('only GET /metrics here\n'));
  await new Promise<void>((resolve) => blocker.listen(0, resolve));
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => blocker?.close(() => resolve()));
  await nats?.stop();
});

it('exits 1 with "address already in use" when its port is taken, instead of running without its API', async () => {
  const port = (blocker.address() as AddressInfo).port;
  const started = startServiceProcess(
    'tickets',
    { MONGO_URI: testMongoUri(), ...busServerEnv(nats), JWT_KEY: TEST_JWT_KEY },
    { port, readyTimeoutMs: 60_000 },
  );
  const error = await started.then(
    () => new Error('the service started on a port another process holds'),
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(StartError);
  const startError = error as StartError;
  expect(startError.message).toMatch(/exited with code 1 before/);
  expect(startError.message).toMatch(/address already in use/i);
  expect(startError.portInUse).toBe(true);
}, 90_000);
