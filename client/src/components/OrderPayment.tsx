'use client';

import { CardElement, Elements, useElements, useStripe } from '@stripe/react-stripe-js';
// The pure entry loads Stripe.js only when loadStripe is called (with a publishable key), never on import.
import type { Stripe } from '@stripe/stripe-js';
import { loadStripe } from '@stripe/stripe-js/pure';
import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useState } from 'react';
import { sendWhenKnown } from '@/lib/api-browser';
import { useHydrated } from '@/lib/use-hydrated';
import { describeStatus, formatRemaining } from '@/lib/format';
import type { Order } from '@/lib/types';
import { FormAlert } from './Field';

/** Stripe's test card token: what Pay sends when no publishable key is configured (stripe-mock). */
const TEST_CARD_TOKEN = 'tok_visa';

/** Milliseconds since the epoch, ticking every second. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/**
 * The order's state and its payment: a countdown to expiresAt, then "expired" with Pay disabled; Pay
 * sends a token to POST /api/payments, then the order reads "complete".
 */
export function OrderPayment({ order, publishableKey }: { order: Order; publishableKey: string | undefined }) {
  const now = useNow();
  const [paid, setPaid] = useState(false);
  const status = paid ? 'complete' : order.status;
  const remaining = Date.parse(order.expiresAt) - now;
  const expired = status !== 'complete' && remaining <= 0;
  const payable = !expired && (status === 'created' || status === 'awaiting:payment');

  let statusText: string;
  if (expired) statusText = 'expired';
  else statusText = describeStatus(status, order.expiresAt, now);

  return (
    <>
      <p>
        Status:{' '}
        <span className="status" data-testid="order-status">
          {statusText}
        </span>
      </p>
      {payable && (
        <p role="timer" aria-live="off" suppressHydrationWarning>
          expires in {formatRemaining(remaining)}
        </p>
      )}
      {status !== 'complete' && status !== 'cancelled' && (
        <PayForm orderId={order.id} publishableKey={publishableKey} disabled={!payable} onPaid={() => setPaid(true)} />
      )}
    </>
  );
}

interface PayProps {
  orderId: string;
  publishableKey: string | undefined;
  disabled: boolean;
  onPaid: () => void;
}

function PayForm(props: PayProps) {
  // Configuration, not a test branch: with a publishable key the card is collected by Stripe Elements.
  if (props.publishableKey === undefined)
    return <PayButton {...props} token={() => Promise.resolve(TEST_CARD_TOKEN)} />;
  return <StripePay {...props} publishableKey={props.publishableKey} />;
}

function StripePay(props: PayProps & { publishableKey: string }) {
  const stripePromise = useMemo<Promise<Stripe | null>>(() => loadStripe(props.publishableKey), [props.publishableKey]);
  return (
    <Elements stripe={stripePromise}>
      <StripeCard {...props} />
    </Elements>
  );
}

function StripeCard(props: PayProps) {
  const stripe = useStripe();
  const elements = useElements();
  const token = async (): Promise<string> => {
    const card = elements?.getElement(CardElement);
    if (stripe === null || card === null || card === undefined) throw new Error('The card form is still loading');
    const { paymentMethod, error } = await stripe.createPaymentMethod({ type: 'card', card });
    if (error !== undefined) throw new Error(error.message ?? 'The card was not accepted');
    return paymentMethod.id;
  };
  return (
    <>
      <label htmlFor="card">Card</label>
      <div className="card-element" id="card">
        <CardElement />
      </div>
      <PayButton {...props} disabled={props.disabled || stripe === null} token={token} />
    </>
  );
}

function PayButton({ orderId, disabled, onPaid, token }: PayProps & { token: () => Promise<string> }) {
  const router = useRouter();
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState(false);
  const hydrated = useHydrated();
  const pay = async (): Promise<void> => {
    setBusy(true);
    setErrors([]);
    let paymentToken: string;
    try {
      paymentToken = await token();
    } catch (error) {
      setBusy(false);
      setErrors([error instanceof Error ? error.message : String(error)]);
      return;
    }
    const result = await sendWhenKnown<{ id: string; status?: string }>('POST', '/api/payments', {
      orderId,
      token: paymentToken,
    });
    setBusy(false);
    if (!result.ok) {
      setErrors(result.errors.map((e) => e.message));
      return;
    }
    if (result.body.status === 'pending') {
      // 202: the provider's answer is not known yet; payments settles it and the order completes.
      setPending(true);
      return;
    }
    onPaid();
    router.refresh();
  };
  // While a payment is being confirmed, read the order again every few seconds until it completes.
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => router.refresh(), 3_000);
    return () => clearInterval(timer);
  }, [pending, router]);
  return (
    <>
      <FormAlert messages={errors} />
      {pending && <p role="status">Your payment is being confirmed; this page updates when it is.</p>}
      <button
        type="button"
        className="primary"
        disabled={!hydrated || disabled || busy || pending}
        onClick={() => void pay()}
      >
        Pay
      </button>
    </>
  );
}
