import { VersionConflictError, deleteIfVersion, runExclusive } from '@ticketing/common';
import { Payment, PaymentStatus, type PaymentDoc } from '../models/payment';

/**
 * The writes to a payment claim (a pending or unknown payment), each guarded by the claim's version:
 * a write of whoever no longer holds the claim (a request whose lease ran out and whose claim a
 * reconciler took, a reconciler whose lease ran out) changes nothing and answers false, so of the
 * request and the reconcilers exactly one settles a claim. Within a process the writes to one claim
 * also run one at a time (see runExclusive: where conditional writes are not atomic, that is what
 * keeps two of them from both winning).
 */

const claimKey = (payment: PaymentDoc): string => `payment-claim:${payment._id.toHexString()}`;

/** Runs the writes of one claim one after the other within this process. */
export function exclusive<T>(payment: PaymentDoc, task: () => Promise<T>): Promise<T> {
  return runExclusive(claimKey(payment), task);
}

/** Saves `change` if the claim is still at the version it was loaded at; false if someone else changed it. */
export async function saveClaim(payment: PaymentDoc, change: (payment: PaymentDoc) => void): Promise<boolean> {
  return exclusive(payment, async () => {
    change(payment);
    try {
      await payment.save();
      return true;
    } catch (err) {
      if (err instanceof VersionConflictError) return false;
      throw err;
    }
  });
}

/** Holds the claim until `until` (a reconciler taking it over, a request keeping it). */
export function lease(payment: PaymentDoc, until: Date): Promise<boolean> {
  return saveClaim(payment, (p) => p.set('leaseUntil', until));
}

/** Stripe may have the money, or is still taking it: the reconciler settles the claim from now on. */
export function markUnknown(payment: PaymentDoc, stripeStatus?: string): Promise<boolean> {
  return saveClaim(payment, (p) => {
    p.set({ status: PaymentStatus.Unknown, leaseUntil: new Date() });
    if (stripeStatus !== undefined) p.set('stripeStatus', stripeStatus);
  });
}

/**
 * Deletes the claim, which frees the order for another payment: only when nothing was charged. The
 * delete is guarded like the saves (see deleteIfVersion in common).
 */
export function release(payment: PaymentDoc): Promise<boolean> {
  return exclusive(payment, () =>
    deleteIfVersion(Payment, payment._id, payment.version, {
      status: { $in: [PaymentStatus.Pending, PaymentStatus.Unknown] },
    }),
  );
}
