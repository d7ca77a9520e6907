import { app } from '@azure/functions';
import type { VersionedCart } from '../shared/carts/service.js';
import * as carts from '../shared/carts/service.js';
import {
  AddCartItemInput,
  CartItemPath,
  CartPath,
  RemoveCartItemQuery,
  SetCartItemInput,
} from '../shared/carts/schema.js';
import {
  empty,
  parseIfMatch,
  json,
  parseJsonBody,
  parsePath,
  parseQuery,
  readBodyText,
  readJson,
  route,
} from '../shared/http.js';
import { idempotencyKey, withIdempotency } from '../shared/idempotency/service.js';

const cartResponse = ({ cart, etag }: VersionedCart) => json(200, cart, { ETag: `"${etag}"` });

/** GET /api/carts/{userId}: the cart with line and grand totals, and its ETag. */
export const getCart = route(async (request) =>
  cartResponse(await carts.getCart(parsePath(request, CartPath).userId)),
);

/** POST /api/carts/{userId}/items: adds to a line; honours Idempotency-Key. */
export const addCartItem = route(async (request) => {
  const { userId } = parsePath(request, CartPath);
  const key = idempotencyKey(request);
  const text = await readBodyText(request);
  const { skuId, quantity } = parseJsonBody(text, AddCartItemInput);
  return withIdempotency(`cart-items:${userId}`, key, text, async () =>
    cartResponse(await carts.addItem(userId, skuId, quantity)),
  );
});

/** PUT /api/carts/{userId}/items/{skuId}: sets a line's quantity (0 removes it); honours If-Match. */
export const setCartItem = route(async (request) => {
  const { userId, skuId } = parsePath(request, CartItemPath);
  const ifMatch = parseIfMatch(request);
  const { quantity } = await readJson(request, SetCartItemInput);
  return cartResponse(await carts.setItem(userId, skuId, quantity, ifMatch));
});

/** DELETE /api/carts/{userId}/items/{skuId}?quantity=n: decrements or removes a line; honours If-Match. */
export const removeCartItem = route(async (request) => {
  const { userId, skuId } = parsePath(request, CartItemPath);
  const { quantity } = parseQuery(request, RemoveCartItemQuery);
  return cartResponse(await carts.removeItem(userId, skuId, quantity, parseIfMatch(request)));
});

/** DELETE /api/carts/{userId}: empties the cart. */
export const clearCart = route(async (request) => {
  await carts.clearCart(parsePath(request, CartPath).userId);
  return empty();
});

app.http('getCart', { route: 'carts/{userId}', methods: ['GET'], authLevel: 'function', handler: getCart });
app.http('clearCart', {
  route: 'carts/{userId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: clearCart,
});
app.http('addCartItem', {
  route: 'carts/{userId}/items',
  methods: ['POST'],
  authLevel: 'function',
  handler: addCartItem,
});
app.http('setCartItem', {
  route: 'carts/{userId}/items/{skuId}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: setCartItem,
});
app.http('removeCartItem', {
  route: 'carts/{userId}/items/{skuId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: removeCartItem,
});
