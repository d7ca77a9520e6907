// Money is handled as integer minor units (cents) from parsing to formatting; no floating point.

const DECIMAL = /^(0|[1-9]\d{0,6})(?:\.(\d{1,2}))?$/;
/** The largest accepted price, in cents (1,000,000.00). */
export const MAX_PRICE_CENTS = 100_000_000;

/** Parses a price given as a decimal string ("199.99") into cents, or returns undefined if invalid. */
export function parsePrice(text: string): number | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const cents = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return cents <= MAX_PRICE_CENTS ? cents : undefined;
}

/**
 * Parses a JSON number price by its shortest decimal form, so 199.99 stays 199.99. JSON cannot tell 1e3
 * from 1000, so both are 1000.00; 1e-7 or 19.999 have more than two decimals and are refused.
 */
export function parsePriceNumber(value: number): number | undefined {
  return Number.isFinite(value) ? parsePrice(String(value)) : undefined;
}

/** Formats cents as a decimal string with exactly two fraction digits ("449.48"). */
export function formatCents(cents: number | bigint): string {
  if (typeof cents === 'number' && Number.isSafeInteger(cents) && cents >= 0) {
    const rest = cents % 100;
    return `${(cents - rest) / 100}.${rest < 10 ? '0' : ''}${rest}`;
  }
  const c = BigInt(cents);
  const sign = c < 0n ? '-' : '';
  const abs = c < 0n ? -c : c;
  return `${sign}${(abs / 100n).toString()}.${(abs % 100n).toString().padStart(2, '0')}`;
}
