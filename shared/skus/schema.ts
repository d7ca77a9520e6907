import { z } from 'zod';

import { Id } from '../ids.js';
import { parsePrice, parsePriceNumber } from '../money.js';
import { wholeNumber } from '../params.js';

const PRICE_RULE = 'must be a non-negative amount with at most two decimals, up to 1000000.00';

/** A price as sent by clients (decimal string or JSON number), parsed into integer cents. */
export const PriceInput = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const cents = typeof v === 'number' ? parsePriceNumber(v) : parsePrice(v);
    if (cents === undefined) {
      ctx.addIssue({ code: 'custom', message: PRICE_RULE });
      return z.NEVER;
    }
    return cents;
  })
  .meta({
    description: `Decimal amount, e.g. "199.99"; ${PRICE_RULE}. A string must be written out (no exponent); a JSON number counts by its value, so 1e3 is 1000.00`,
    examples: ['199.99'],
  });

/** Body of PUT /skus/{skuId}. */
export const PutSkuInput = z.strictObject({ name: z.string().trim().min(1).max(200), price: PriceInput });
/** Body of PUT /skus/{skuId} (type). */
export type PutSkuInput = z.infer<typeof PutSkuInput>;

/** A decimal amount as the API returns it: a string with exactly two decimals. */
export const Money = z
  .string()
  .regex(/^\d+\.\d{2}$/)
  .meta({ examples: ['449.48'] });

/** A SKU as the API returns it. */
export const Sku = z.object({ id: Id, name: z.string(), price: Money });
/** A SKU (type). */
export type Sku = z.infer<typeof Sku>;

/** A page of SKUs. */
export const SkuPage = z.object({ items: z.array(Sku), nextCursor: z.string().nullable() });
/** A page of SKUs (type). */
export type SkuPage = z.infer<typeof SkuPage>;

/** Route parameters naming a SKU. */
export const SkuPath = z.object({ skuId: Id });

/** Query of GET /skus. */
export const ListSkusQuery = z.strictObject({
  limit: wholeNumber(1, 200).default(50),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,120}$/, { error: 'is not a cursor from this API' })
    .optional(),
});
