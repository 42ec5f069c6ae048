'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useHydrated } from '@/lib/use-hydrated';
import { sendWhenKnown } from '@/lib/api-browser';
import type { Order } from '@/lib/types';
import { FormAlert } from './Field';

/** Reserves the ticket (POST /api/orders) and opens the order, where it is paid. */
export function PurchaseButton({ ticketId }: { ticketId: string }) {
  const router = useRouter();
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const hydrated = useHydrated();
  const purchase = async (): Promise<void> => {
    setBusy(true);
    const result = await sendWhenKnown<Order>('POST', '/api/orders', { ticketId });
    if (result.ok) {
      router.push(`/orders/${result.body.id}`);
      return;
    }
    setBusy(false);
    setErrors(result.errors.map((e) => e.message));
  };
  return (
    <>
      <FormAlert messages={errors} />
      <button type="button" className="primary" disabled={!hydrated || busy} onClick={() => void purchase()}>
        Purchase
      </button>
    </>
  );
}
