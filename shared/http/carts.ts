// The HTTP shape of a cart answer, shared by the admin routes (/carts/{userId}) and the shopper's own
// (/me/cart): the same bodies, ETags and headers.
import { Cart } from '../carts/schema.js';
import type { VersionedCart } from '../carts/service.js';
import type { Outcome } from '../idempotency.js';
import { replayedHeaders } from './idempotency.js';
import { type HeaderDoc, json } from './route.js';

/** A cart answer: 200 with the ETag when the cart is priced. */
export const cartResponse = ({ cart, etag }: VersionedCart, headers: Record<string, string> = {}) =>
  json(200, cart, { ...(etag === undefined ? {} : { ETag: `"${etag}"` }), ...headers });

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
