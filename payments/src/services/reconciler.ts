import { Payment, PaymentStatus, type PaymentDoc } from '../models/payment';
import { findIntent, retrieveIntent } from './charge';
import { lease, release } from './claim';
import { settleWithIntent, type SettleDeps } from './settle';

export interface ReconcilerOptions extends SettleDeps {
  /** Time between passes (RECONCILE_INTERVAL_MS). */
  intervalMs: number;
  /** How long a pass holds a claim it works on (RECONCILE_LEASE_MS); another replica may take it after. */
  leaseMs: number;
  /** A claim stored without a lease (by an older version) is due this long after its last change. */
  pendingAfterMs: number;
  /** Claims settled per pass at most. */
  batchSize?: number;
}

/**
 * Settles the payment claims whose outcome nobody is waiting for: those marked unknown (a
 * confirmation without a usable answer, an intent still `processing`) and those still pending after
 * their request's lease ran out (its process died between Stripe's answer and the save). It runs at
 * start and then every `intervalMs`.
 *
 * For each claim it first takes a lease (a version-guarded save, so of several replicas one works on
 * a claim, and the request that made it can no longer write to it), then asks Stripe for the claim's
 * PaymentIntent: by the id stored before the confirmation, or, when none was stored, by listing the
 * intents created around the claim and matching metadata.orderId. Then settleWithIntent applies the
 * same rule as the route: succeeded is recorded and payment:created published (refunded when the
 * order was cancelled meanwhile), an intent that can still move on is cancelled and the claim
 * released, processing stays unknown for the next pass. No intent at all: nothing was charged, the
 * claim is released. A claim that fails (Stripe unreachable) is retried by the next pass.
 */
export class PaymentReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly opts: ReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over the due claims; resolves with how many it looked at. */
  async pass(): Promise<number> {
    const now = new Date();
    const due = await Payment.find({
      status: { $in: [PaymentStatus.Pending, PaymentStatus.Unknown] },
      $or: [
        { leaseUntil: { $lte: now } },
        { leaseUntil: { $exists: false }, updatedAt: { $lte: new Date(now.getTime() - this.opts.pendingAfterMs) } },
      ],
    })
      .sort({ leaseUntil: 1 })
      .limit(this.opts.batchSize ?? 100);
    for (const payment of due) {
      if (this.stopped) break;
      try {
        await this.settle(payment);
      } catch (err) {
        this.opts.logger.error(
          { err, paymentId: payment.id, orderId: payment.orderId },
          'reconciler: claim not settled',
        );
      }
    }
    return due.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .then(
          () => undefined,
          (err: unknown) => this.opts.logger.error({ err }, 'reconciler: pass failed'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule(this.opts.intervalMs);
        });
    }, delayMs);
  }

  private async settle(payment: PaymentDoc): Promise<void> {
    const { stripe, logger } = this.opts;
    const log = { paymentId: payment._id.toHexString(), orderId: payment.orderId, stripeId: payment.stripeId };
    // Held by another replica's pass, or the request moved on meanwhile: not ours.
    if (!(await lease(payment, new Date(Date.now() + this.opts.leaseMs)))) return;

    const found =
      payment.stripeId === undefined
        ? await findIntent(
            stripe,
            { paymentId: payment._id.toHexString(), orderId: payment.orderId, createdAt: payment.createdAt },
            logger,
          )
        : await retrieveIntent(stripe, payment.stripeId, logger);
    if (!found.ok) {
      // Stripe did not say: give the claim back at once, so the next pass asks again.
      await lease(payment, new Date());
      logger.warn({ ...log, failure: found.kind }, 'reconciler: Stripe did not answer; retrying on the next pass');
      return;
    }
    const intent = found.value;
    if (intent === undefined) {
      // No intent was created: nothing can have been charged.
      if (await release(payment)) logger.warn(log, 'reconciler: no PaymentIntent; claim released');
      return;
    }
    const settled = await settleWithIntent(this.opts, payment, intent);
    logger.info(
      {
        ...log,
        stripeId: intent.id,
        stripeStatus: intent.status,
        outcome: settled.kind,
        ageMs: Date.now() - payment.createdAt.getTime(),
      },
      'reconciler: claim settled',
    );
  }
}
