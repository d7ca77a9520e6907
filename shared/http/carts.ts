// The HTTP shape of a cart answer, shared by the admin routes (/carts/{userId}) and the shopper's own
// (/me/cart): the same bodies, ETags and headers.
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';

import { Cart, CartToken } from '../carts/schema.js';
import type { VersionedCart } from '../carts/service.js';
import type { Outcome } from '../idempotency.js';
import { replayedHeaders } from './idempotency.js';
import { parseWith } from './request.js';
import { type HeaderDoc, jsonText } from './route.js';

/** A cart answer: 200 with the ETag when the cart is priced. */
export const cartResponse = ({ text, etag }: VersionedCart, headers: Record<string, string> = {}) =>
  jsonText(200, text, { ...(etag === undefined ? {} : { ETag: `"${etag}"` }), ...headers });

/** The answer to a cart write, marked when it was a replay of an applied Idempotency-Key. */
export const written = ({ value, replayed }: Outcome<VersionedCart>) =>
  cartResponse(value, replayedHeaders(replayed));

/** The documented success of every cart route. */
export const cartOk = { description: 'The cart, priced', schema: Cart, headers: ['ETag'] };

/** The If-Match header of the cart's line changes. */
export const ifMatchHeader: HeaderDoc = {
  name: 'If-Match',
  description:
    'Strong ETag(s) of the cart this change is based on, or "*" (RFC 9110): 412 when none is the current ETag; weak tags never match; 400 only when the header is malformed. The ETag changes whenever the cart representation does, a SKU price change included',
};

/** The Cart-Token header of the guest cart routes and the merge. */
export const cartTokenHeader: HeaderDoc = {
  name: 'Cart-Token',
  description:
    'The token POST /guest-cart returned: it alone opens the guest cart (keep it like a password; it is never put in a URL)',
};

const CartTokenHeader = z.object({ 'Cart-Token': CartToken });

/** The request's validated Cart-Token; 400 naming the header when it is missing or malformed. */
export function cartTokenOf(request: HttpRequest): string {
  const value = request.headers.get('cart-token') ?? undefined;
  return parseWith(CartTokenHeader, { 'Cart-Token': value }, 'header')['Cart-Token'];
}
