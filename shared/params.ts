import { z } from 'zod';

/** A whole number given as text (a query parameter or an environment variable), within bounds. */
export function wholeNumber(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}
