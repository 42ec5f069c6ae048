import { Gauge, Histogram, LAG_BUCKETS, metricsRegistry, secondsSince, type Logger } from '@ticketing/common';
import { Queue, Worker, type Job, type JobsOptions, type RedisClient } from 'bullmq';

export interface ExpirationJobData {
  orderId: string;
  /** ISO date the order expires at; kept for logs and lateness figures. */
  expiresAt: string;
}

export interface ExpirationQueueOptions {
  redisUrl: string;
  /** Redis key prefix of the queue ('bull' in production; tests give each file its own). */
  prefix: string;
  logger: Logger;
  /**
   * Called when an order's payment window is over. Rejecting makes BullMQ try again later with a
   * capped exponential back-off; the job stays in Redis meanwhile, so nothing is lost.
   */
  onExpire: (data: ExpirationJobData) => Promise<void>;
  retry?: { minDelayMs: number; maxDelayMs: number };
  concurrency?: number;
}

export type CancelOutcome = 'removed' | 'absent' | 'already-fired';

const QUEUE_NAME = 'order-expiration';
const JOB_NAME = 'expire-order';
const BACKOFF_TYPE = 'capped-exponential';
/** Practically "until it works": at a 60 s cap this is about two months of attempts. */
const ATTEMPTS = 100_000;
/**
 * Fired jobs are kept for a day, so an order:created redelivered after its job fired finds the job
 * and schedules nothing (BullMQ ignores an add whose jobId exists). Failed jobs are kept for a week
 * for inspection; with ATTEMPTS that many, a job only ends failed if Redis loses it mid-way.
 */
const KEEP_COMPLETED = { age: 24 * 3600 };
const KEEP_FAILED = { age: 7 * 24 * 3600 };

const JOB_STATES = ['delayed', 'waiting', 'active', 'failed'] as const;
/** The queues open in this process (one in the service; tests open several). */
const openQueues = new Set<ExpirationQueue>();

// Asked of Redis at scrape time; a Redis that does not answer within a second leaves no series
// (Prometheus sees the gap) rather than a stale count.
new Gauge({
  name: 'expiration_queue_jobs',
  help: 'Expiration jobs in Redis by state: delayed (not due yet), waiting (due), active (firing), failed',
  labelNames: ['state'] as const,
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    const totals = new Map<string, number>();
    for (const queue of openQueues) {
      const counts = await queue.jobCounts(1_000);
      if (counts === undefined) continue;
      for (const state of JOB_STATES) totals.set(state, (totals.get(state) ?? 0) + (counts[state] ?? 0));
    }
    for (const [state, count] of totals) this.set({ state }, count);
  },
});

const expirationLateness = new Histogram({
  name: 'expiration_lateness_seconds',
  help: "From an order's expiresAt to its expiration:complete being published (retries included)",
  buckets: LAG_BUCKETS,
  registers: [metricsRegistry],
});

/**
 * The delayed jobs behind order expiry: one job per order, whose id is the order id, due at the
 * order's expiresAt. Jobs live in Redis, so a restart of the service (or of the worker) loses none:
 * the next worker on the same prefix runs whatever is due.
 */
export class ExpirationQueue {
  readonly queue: Queue<ExpirationJobData>;
  private worker: Worker<ExpirationJobData> | undefined;
  private readonly log: Logger;
  private readonly retry: { minDelayMs: number; maxDelayMs: number };
  private readonly clients: RedisClient[] = [];

  constructor(private readonly opts: ExpirationQueueOptions) {
    this.log = opts.logger.child({ component: 'expiration-queue' });
    this.retry = opts.retry ?? { minDelayMs: 1_000, maxDelayMs: 60_000 };
    this.queue = new Queue<ExpirationJobData>(QUEUE_NAME, {
      connection: { url: opts.redisUrl },
      prefix: opts.prefix,
    });
    openQueues.add(this);
    // Without a listener an 'error' event (Redis away) would crash the process.
    this.queue.on('error', (err) => this.log.warn({ err }, 'queue connection error'));
  }

  /**
   * Schedules the expiry of an order; an order that already has a job (a redelivered
   * order:created) keeps the one it has. Resolves once Redis stored the job.
   */
  async schedule(orderId: string, expiresAt: Date, now: number = Date.now()): Promise<Job<ExpirationJobData>> {
    const delay = Math.max(0, expiresAt.getTime() - now);
    const options: JobsOptions = {
      jobId: orderId,
      delay,
      attempts: ATTEMPTS,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
    const job = await this.queue.add(JOB_NAME, { orderId, expiresAt: expiresAt.toISOString() }, options);
    this.log.info({ orderId, delayMs: delay }, 'expiration scheduled');
    return job;
  }

  /** Removes an order's job unless it has already fired (a paid or cancelled order needs no expiry). */
  async cancel(orderId: string): Promise<CancelOutcome> {
    const job = await this.queue.getJob(orderId);
    if (job === undefined) return 'absent';
    const state = await job.getState();
    if (state !== 'delayed' && state !== 'waiting' && state !== 'prioritized') return 'already-fired';
    // 0 means the job was locked: a worker picked it up between getState and remove, i.e. it fired.
    const removed = await this.queue.remove(orderId);
    const outcome = removed === 1 ? 'removed' : 'already-fired';
    this.log.info({ orderId, outcome }, 'expiration cancelled');
    return outcome;
  }

  /** Resolves once Redis answers (ioredis keeps retrying meanwhile). */
  async waitUntilReady(): Promise<void> {
    this.clients.push(await this.queue.waitUntilReady());
  }

  /** Starts processing due jobs. Call once the bus is connected (a job that cannot publish is retried). */
  async start(): Promise<void> {
    if (this.worker !== undefined) return;
    const { minDelayMs, maxDelayMs } = this.retry;
    const worker = new Worker<ExpirationJobData>(QUEUE_NAME, (job) => this.opts.onExpire(job.data), {
      connection: { url: this.opts.redisUrl },
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency ?? 16,
      settings: {
        backoffStrategy: (attemptsMade: number) =>
          Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attemptsMade - 1)),
      },
    });
    this.worker = worker;
    worker.on('error', (err) => this.log.warn({ err }, 'worker connection error'));
    worker.on('failed', (job, err) => {
      this.log.warn(
        { err, orderId: job?.data.orderId, attemptsMade: job?.attemptsMade },
        'expiration failed; will retry',
      );
    });
    worker.on('completed', (job) => {
      const latenessMs = Date.now() - new Date(job.data.expiresAt).getTime();
      expirationLateness.observe(secondsSince(new Date(job.data.expiresAt).getTime()));
      this.log.info({ orderId: job.data.orderId, latenessMs }, 'order expired');
    });
    this.clients.push(await worker.waitUntilReady());
  }

  /** Readiness: every Redis connection (the queue's, and the worker's once started) is usable. */
  isReady(): boolean {
    return this.clients.length > 0 && this.clients.every((client) => client.status === 'ready');
  }

  /** Jobs by state, or undefined if Redis does not answer within timeoutMs. */
  async jobCounts(timeoutMs: number): Promise<Record<string, number> | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.queue.getJobCounts(...JOB_STATES), timeout]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets running jobs finish (their publishes are awaited), then closes both Redis connections. */
  async close(): Promise<void> {
    openQueues.delete(this);
    await this.worker?.close();
    await this.queue.close();
  }
}
