import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '..';
import { TEST_JWT_KEY, eventually, sessionCookie } from '../testing';

/** A logger whose lines are kept in memory, parsed. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** The url of a request line (undefined for other lines). */
const urlOf = (line: Record<string, unknown>): string | undefined => (line['req'] as { url?: string } | undefined)?.url;

function appWith(logger: pino.Logger) {
  const router = express.Router();
  router.post('/api/things', (_req, res) => {
    res.status(201).json({ ok: true });
  });
  return createApp({ logger, jwtKey: TEST_JWT_KEY, secureCookies: false, readiness: {}, routers: [router] });
}

describe('request log', () => {
  it('logs one line per request with method, url and status, and never the session cookie', async () => {
    const { logger, lines } = capturingLogger();
    const cookie = sessionCookie({ id: 'user-1', email: 'a@example.com' });

    await request(appWith(logger))
      .post('/api/things')
      .set('Cookie', cookie)
      .set('X-Request-Id', 'req-log-1')
      .send({})
      .expect(201);

    // The line is written when the server closes the response, which may be just after the client has it.
    await eventually(() => expect(lines.some((l) => urlOf(l) === '/api/things')).toBe(true));
    const line = lines.find((l) => urlOf(l) === '/api/things');
    expect(line).toMatchObject({
      requestId: 'req-log-1',
      req: { method: 'POST', url: '/api/things' },
      res: { statusCode: 201 },
      responseTime: expect.any(Number),
    });
    const everything = JSON.stringify(lines);
    const token = (cookie[0] ?? '').split(';')[0]?.split('=')[1] ?? '';
    expect(token.length).toBeGreaterThan(20);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('headers');
  });

  it('does not log health probes', async () => {
    const { logger, lines } = capturingLogger();
    const app = appWith(logger);
    await request(app).get('/healthz').expect(200);
    await request(app).post('/api/things').send({}).expect(201);
    const urls = () => lines.map(urlOf).filter(Boolean);
    // Both requests are done once the second one's line is there: the probe's never comes.
    await eventually(() => expect(urls()).toContain('/api/things'));
    expect(urls()).toEqual(['/api/things']);
  });
});
