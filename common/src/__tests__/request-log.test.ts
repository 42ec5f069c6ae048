import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '..';
import { TEST_JWT_KEY, sessionCookie } from '../testing';

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

    const line = lines.find((l) => (l['req'] as { url?: string } | undefined)?.url === '/api/things');
    expect(line).toMatchObject({
      req: { method: 'POST', url: '/api/things' },
      res: { statusCode: 201 },
    });
    const everything = JSON.stringify(lines);
    const token = (cookie[0] ?? '').split(';')[0]?.split('=')[1] ?? '';
    expect(token.length).toBeGreaterThan(20);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('headers');
  });
});
