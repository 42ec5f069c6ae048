/**
 * Prices are exact to the cent. The API and events carry decimal numbers (19.99); storage and
 * arithmetic use integer cents, because 19.99 * 100 is 1998.9999999999998 in floating point.
 */
export function toCents(price: number): number {
  return Math.round(price * 100);
}

export function fromCents(cents: number): number {
  return cents / 100;
}

/** A positive amount with at most two decimals, small enough to stay exact as a double. */
export function isValidPrice(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value > 0 &&
    value <= 1_000_000 &&
    // Exactly representable as cents: 19.99 passes, 19.990000001 and 19.999 do not.
    fromCents(toCents(value)) === value
  );
}
