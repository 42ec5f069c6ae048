import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { closeHttpServer, type ShutdownStep } from '../lifecycle/shutdown';
import { enableProcessMetrics, metricsRegistry } from './registry';

export interface MetricsServer {
  port: number;
  step: ShutdownStep;
}

/**
 * The Prometheus endpoint on its own port (METRICS_PORT, 9464 by default), apart from the API's: the
 * Ingress and the dev gateway route only the API's port, so /metrics is never reachable from the
 * outside, while Prometheus scrapes the pod directly (the annotations in infra/k8s). It answers
 * GET /metrics and nothing else. Resolves once listening; a port in use fails the start.
 */
export async function listenMetrics(port: number, service: string, logger: Logger): Promise<MetricsServer> {
  enableProcessMetrics(service);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
      return;
    }
    metricsRegistry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metricsRegistry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ port: bound }, `${service} metrics listening`);
  return { port: bound, step: { name: 'metrics', close: () => closeHttpServer(server) } };
}
