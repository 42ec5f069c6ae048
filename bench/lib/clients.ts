import http from 'node:http';
import { performance } from 'node:perf_hooks';
import mongoose from 'mongoose';
import nats, { type Stan } from 'node-nats-streaming';
import { Publisher, Subjects, type Bus, type TicketCreatedEvent } from '../../common/src';
import { sessionCookie } from '../../common/src/testing';
import { requestJson } from '../../test/fault/support/http-client';
import { round } from './stats';
import type { Target } from './target';

/** How the bench's phases talk to the system: HTTP calls, raw bus clients, replica reads. */

export const newId = (): string => new mongoose.Types.ObjectId().toHexString();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
  readonly subject = Subjects.TicketCreated;
}

export function cookieFor(target: Target, userId = newId()): string {
  return sessionCookie({ id: userId, email: `${userId}@bench.test` }, target.jwtKey)[0] ?? '';
}

export async function postTicket(
  url: string,
  cookie: string,
  agent: http.Agent,
  title: string,
): Promise<string | undefined> {
  const res = await requestJson<{ id?: string }>(`${url}/api/tickets`, {
    method: 'POST',
    body: { title, price: 20 },
    cookie: [cookie],
    agent,
    timeoutMs: 30_000,
  });
  return res.status === 201 ? res.body.id : undefined;
}

export function connectStan(url: string, clusterId: string): Promise<Stan> {
  const stan = nats.connect(clusterId, `bench-${process.pid}-${newId().slice(-6)}`, { url });
  return new Promise((resolve, reject) => {
    stan.once('connect', () => resolve(stan));
    stan.once('error', reject);
  });
}

export function publishRaw(stan: Stan, channel: string, data: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    stan.publish(channel, JSON.stringify(data), (err) => (err ? reject(err) : resolve()));
  });
}

export async function waitForReplica(
  collection: mongoose.mongo.Collection,
  ids: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const objectIds = ids.map((id) => new mongoose.Types.ObjectId(id));
  while ((await collection.countDocuments({ _id: { $in: objectIds } })) < ids.length) {
    if (Date.now() > deadline) throw new Error(`tickets not replicated within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export async function contentionRound(
  url: string,
  body: unknown,
  cookies: string[],
): Promise<{ statuses: number[]; ms: number[]; errors: string[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cookies.length });
  try {
    const results = await Promise.all(
      cookies.map((cookie) =>
        requestJson<unknown>(url, { method: 'POST', body, cookie: [cookie], agent, timeoutMs: 30_000 }).then(
          (res) => ({ status: res.status, ms: res.ms, error: undefined }),
          (err: unknown) => ({ status: 0, ms: Number.NaN, error: err instanceof Error ? err.message : String(err) }),
        ),
      ),
    );
    return {
      statuses: results.map((r) => r.status),
      ms: results.filter((r) => r.error === undefined).map((r) => r.ms),
      errors: results.flatMap((r) => (r.error === undefined ? [] : [r.error])),
    };
  } finally {
    agent.destroy();
  }
}

/** Time for the orders replica to hold `count` new tickets published as fast as the bus takes them. */
export async function drain(
  bus: Bus,
  replica: mongoose.mongo.Collection,
  count: number,
): Promise<{ ms: number; rate: number }> {
  const marker = `scaling-${newId()}`;
  const publisher = new TicketCreatedPublisher(bus);
  const started = performance.now();
  const publishing = (async () => {
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i += 1) {
      while (inFlight.size >= 256) await Promise.race(inFlight);
      const p = publisher
        .publish({ id: newId(), version: 0, title: `Scaling ${i}`, price: 10, userId: marker })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  })();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const done = await replica.countDocuments({ userId: marker });
    if (done >= count) break;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${count} events consumed in 120 s`);
    // A count scans the collection on FerretDB: not too often, or it weighs on what it measures.
    await sleep(100);
  }
  await publishing;
  const ms = performance.now() - started;
  return { ms: round(ms, 0), rate: round(count / (ms / 1000), 1) };
}
