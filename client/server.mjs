// The production server of the web client: what `next start` does, plus a clean stop. `next start`
// dies of SIGTERM (exit 143) with requests in flight; a Deployment's rollout sends SIGTERM and
// expects the pod to finish its requests and exit 0 within its grace period.
import http from 'node:http';
import next from 'next';

const port = Number(process.env.PORT ?? 3000);
const hostname = process.env.HOSTNAME ?? '0.0.0.0';
const GRACE_MS = 10_000;

const app = next({ dev: false, dir: import.meta.dirname, hostname, port });
await app.prepare();
const handle = app.getRequestHandler();
const server = http.createServer((req, res) => void handle(req, res));
server.listen(port, hostname);

function stop() {
  server.close(() => process.exit(0));
  // Kept-alive connections with no request keep close() waiting: drop them, and give the rest
  // until the grace period's end.
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), GRACE_MS).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
