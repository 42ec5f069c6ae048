/** "$25.50": prices always with two decimals. */
export function formatPrice(price: number): string {
  return `$${price.toFixed(2)}`;
}

/** "14:32" for 872 000 ms; hours are folded into minutes ("75:00"). */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes}:${String(seconds).padStart(2, '0')}`;
}

const STATUS_TEXT: Record<string, string> = {
  created: 'awaiting payment',
  'awaiting:payment': 'awaiting payment',
  complete: 'complete',
  cancelled: 'cancelled',
};

/** An order's status as a person reads it; a cancelled order whose window has passed is "expired". */
export function describeStatus(status: string, expiresAt: string, now: number): string {
  if (status === 'cancelled' && Date.parse(expiresAt) <= now) return 'expired';
  return STATUS_TEXT[status] ?? status;
}
