// Decimal text for the export: a list's DUMP payload as "123\n" lines, two digits at a time.
import { readIntegers } from './listReader.js';

// Values per chunk of text: about 600 KB, small against one segment's payload.
const CHUNK_VALUES = 65_536;

/**
 * The integers of a list's DUMP payload as decimal lines, in chunks of about 600 KB, in the list's order
 * or reversed; `values` is scratch space for one list's integers, reused from call to call. Lazy: each
 * chunk is made when asked for, so a caller that asks only as fast as it sends never piles text up.
 */
export function* listLines(payload: Buffer, reverse: boolean, values: Int32Array): Generator<Buffer> {
  const n = readIntegers(payload, values);
  for (let from = 0; from < n; from += CHUNK_VALUES) {
    const to = Math.min(n, from + CHUNK_VALUES);
    const text = Buffer.allocUnsafe((to - from) * 12);
    const bytes = reverse
      ? writeDecimalLines(values, n - to, n - from, true, text)
      : writeDecimalLines(values, from, to, false, text);
    yield text.subarray(0, bytes);
  }
}

// "00" to "99", for writing two digits at a time.
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

/**
 * Writes `values[from, to)` (in reverse when asked) as decimal lines ("123\n") into `out` and returns the
 * number of bytes written; `out` needs 12 bytes per value.
 */
export function writeDecimalLines(
  values: Int32Array,
  from: number,
  to: number,
  reverse: boolean,
  out: Buffer,
): number {
  let at = 0;
  for (let k = from; k < to; k++) {
    let v = values[reverse ? to - 1 - (k - from) : k] ?? 0;
    if (v < 0) {
      out[at++] = 45;
      v = -v;
    }
    const len =
      v < 10
        ? 1
        : v < 100
          ? 2
          : v < 1e3
            ? 3
            : v < 1e4
              ? 4
              : v < 1e5
                ? 5
                : v < 1e6
                  ? 6
                  : v < 1e7
                    ? 7
                    : v < 1e8
                      ? 8
                      : v < 1e9
                        ? 9
                        : 10;
    let pos = at + len;
    out[pos] = 10;
    while (v >= 100) {
      const q = Math.floor(v / 100);
      const pair = (v - q * 100) * 2;
      out[--pos] = PAIRS[pair + 1] ?? 48;
      out[--pos] = PAIRS[pair] ?? 48;
      v = q;
    }
    // What is left is the first one or two digits, at `at`.
    if (v >= 10) {
      out[at + 1] = PAIRS[v * 2 + 1] ?? 48;
      out[at] = PAIRS[v * 2] ?? 48;
    } else {
      out[at] = 48 + v;
    }
    at += len + 1;
  }
  return at;
}
