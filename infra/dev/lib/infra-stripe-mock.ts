/** Starts stripe-mock (the Stripe API from its OpenAPI spec; the test-mode front goes in front of it). */
import { spawnManaged, startOnFreePort, waitUntilReady } from './infra-process';
import { expectHttp200 } from './infra-probes';
import { externalServer, stderrLog } from './infra-tool-names';
import { ensureTool } from './infra-tools';
import { HOST, once, portOf, readyOpts, requireBinary, type CommonStartOptions } from './infra-start';

export type StartStripeMockOptions = CommonStartOptions & { port?: number };

export interface StripeMockServer {
  /** http://127.0.0.1:PORT: point the Stripe client's host/port/protocol here. */
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startStripeMock(opts: StartStripeMockOptions = {}): Promise<StripeMockServer> {
  const external = externalServer('stripe');
  if (external !== undefined) {
    return { url: external, host: new URL(external).hostname, port: portOf(external, 12111), stop: async () => {} };
  }

  const tool = await ensureTool('stripe', opts.log ?? stderrLog);
  const binary = requireBinary(tool.path, 'stripe');
  return startOnFreePort(opts.port, async (port) => {
    // stripe-mock still opens HTTPS on its default :12112 when only -http-addr is given (its check for
    // "HTTP chosen explicitly" ignores -http-addr), so two runs would collide there: give HTTPS a
    // port the OS picks. Nobody uses it.
    const args = ['-http-addr', `${HOST}:${port}`, '-https-addr', `${HOST}:0`];
    const proc = spawnManaged('stripe-mock', binary, args);
    const url = `http://${HOST}:${port}`;
    await waitUntilReady(
      proc,
      `stripe-mock on port ${port}`,
      () => expectHttp200(`${url}/v1/charges`, { Authorization: 'Bearer sk_test_123' }),
      readyOpts(opts),
    );
    return { url, host: HOST, port, stop: once(() => proc.stop()) };
  });
}
