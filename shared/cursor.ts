// Page cursors, one format for every resource: base64url of a small JSON object, read back only through a
// schema, so a client can neither read meaning into them nor forge one that parses.
import type { z } from 'zod';

/** An opaque cursor for a position. */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a cursor stands for, or undefined when it is not one this API issued. */
export function decodeCursor<S extends z.ZodType>(text: string, schema: S): z.output<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
