import express from 'express';
import helmet from 'helmet';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '..';

/** The security headers of a response: everything but what varies per request or per body. */
function securityHeadersOf(headers: Record<string, unknown>): Record<string, unknown> {
  const varying = new Set(['date', 'connection', 'keep-alive', 'content-length', 'content-type', 'x-request-id']);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !varying.has(name)));
}

describe('security headers', () => {
  it('are the ones helmet sets, on every response', async () => {
    const reference = express();
    reference.disable('x-powered-by');
    reference.set('etag', false);
    reference.use(helmet());
    reference.get('/api/things', (_req, res) => void res.json({ ok: true }));

    const router = express.Router().get('/api/things', (_req, res) => void res.json({ ok: true }));
    const app = createApp({
      logger: pino({ level: 'silent' }),
      secureCookies: false,
      readiness: {},
      routers: [router],
    });

    const expected = securityHeadersOf((await request(reference).get('/api/things').expect(200)).headers);
    expect(expected['content-security-policy']).toBeDefined();
    expect(Object.keys(expected).length).toBeGreaterThan(8);
    const ours = await request(app).get('/api/things').expect(200);
    expect(securityHeadersOf(ours.headers)).toEqual(expected);
    // Errors and unknown routes carry them too (the middleware runs first).
    const missing = await request(app).get('/api/nothing-here').expect(404);
    expect(securityHeadersOf(missing.headers)).toEqual(expected);
  });
});
