import { z } from 'zod';

import { Id } from '../ids.js';
import { Money } from '../skus/schema.js';

const Quantity = z.int().min(1).max(1_000_000);

/** Body of POST /carts/{userId}/items. */
export const AddCartItemInput = z.strictObject({ skuId: Id, quantity: Quantity.default(1) });
/** Body of POST /carts/{userId}/items (type). */
export type AddCartItemInput = z.infer<typeof AddCartItemInput>;

/** Body of PUT /carts/{userId}/items/{skuId}: 0 removes the line. */
export const SetCartItemInput = z.strictObject({ quantity: z.int().min(0).max(1_000_000) });

/** Query of DELETE /carts/{userId}/items/{skuId}: decrement by `quantity`, or remove the line without it. */
export const RemoveCartItemQuery = z.strictObject({
  quantity: z
    .string()
    .regex(/^[1-9]\d{0,6}$/, { error: 'must be a whole number from 1' })
    .transform(Number)
    .optional(),
});

/** A guest cart's token (the Cart-Token header): 256 random bits, base64url. */
export const CartToken = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, { error: 'must be a cart token from POST /guest-cart' });

/** An If-Match precondition: absent, `*` (any current representation), or the strong entity tags it lists. */
export type IfMatch = undefined | '*' | readonly string[];

/** Route parameters naming a cart. */
export const CartPath = z.object({ userId: Id });
/** Route parameters naming a cart line. */
export const CartItemPath = z.object({ userId: Id, skuId: Id });

/**
 * One cart line. A line whose SKU was deleted, or whose stored quantity is not a whole number from 1
 * (written by hand; its quantity then reads 0), is `available: false` and counts in no total. In a cart
 * answered without prices (`priced: false`) availability is unknown: null.
 */
export const CartLine = z.object({
  skuId: Id,
  name: z.string().nullable(),
  unitPrice: Money.nullable(),
  quantity: z.int(),
  lineTotal: Money.nullable(),
  available: z.boolean().nullable(),
});
/** One cart line (type). */
export type CartLine = z.infer<typeof CartLine>;

/**
 * A cart with totals computed on read. `priced: false` (absent otherwise) only answers a write that was
 * applied while the SKUs could not be read within the deadline: the lines as they are, no prices, no total
 * and no ETag (read the cart again for them). Never retry such a write: it was applied.
 */
export const Cart = z.object({
  /** The owner's user id; null for a guest cart. */
  userId: Id.nullable(),
  items: z.array(CartLine),
  totalQuantity: z.int(),
  total: Money.nullable(),
  priced: z.literal(false).optional(),
});
/** A cart (type). */
export type Cart = z.infer<typeof Cart>;

/** The answer to POST /guest-cart: the cart token (shown once; only its hash is stored) and the empty cart. */
export const GuestCartCreated = z.object({ cartToken: CartToken, cart: Cart });
