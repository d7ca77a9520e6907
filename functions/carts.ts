import {
  AddCartItemInput,
  Cart,
  CartItemPath,
  CartPath,
  RemoveCartItemQuery,
  SetCartItemInput,
} from '../shared/carts/schema.js';
import * as carts from '../shared/carts/service.js';
import type { VersionedCart } from '../shared/carts/service.js';
import { replayedHeaders } from '../shared/http/idempotency.js';
import { parseIfMatch } from '../shared/http/request.js';
import { defineRoute, empty, json, type HeaderDoc } from '../shared/http/route.js';
import type { Outcome } from '../shared/idempotency.js';

const cartResponse = ({ cart, etag }: VersionedCart, headers: Record<string, string> = {}) =>
  json(200, cart, { ...(etag === undefined ? {} : { ETag: `"${etag}"` }), ...headers });
const written = ({ value, replayed }: Outcome<VersionedCart>) =>
  cartResponse(value, replayedHeaders(replayed));
const cartOk = { description: 'The cart, priced', schema: Cart, headers: ['ETag'] };
const ifMatch: HeaderDoc = {
  name: 'If-Match',
  description:
    'Strong ETag(s) of the cart this change is based on, or "*" (RFC 9110): 412 when none is the current ETag; weak tags never match; 400 only when the header is malformed. The ETag changes whenever the cart representation does, a SKU price change included',
};

export const getCart = defineRoute({
  name: 'getCart',
  method: 'GET',
  path: '/carts/{userId}',
  authLevel: 'function',
  summary: 'Read a cart with line and grand totals',
  tag: 'carts',
  params: CartPath,
  responses: { 200: cartOk },
  errors: ['user_not_found'],
  handler: async ({ params }) => cartResponse(await carts.getCart(params.userId)),
});

export const clearCart = defineRoute({
  name: 'clearCart',
  method: 'DELETE',
  path: '/carts/{userId}',
  authLevel: 'function',
  summary: 'Empty a cart',
  tag: 'carts',
  params: CartPath,
  responses: { 204: { description: 'Emptied' } },
  errors: ['user_not_found'],
  handler: async ({ params }) => {
    await carts.clearCart(params.userId);
    return empty();
  },
});

export const addCartItem = defineRoute({
  name: 'addCartItem',
  method: 'POST',
  path: '/carts/{userId}/items',
  authLevel: 'function',
  summary: 'Add to a cart line',
  tag: 'carts',
  params: CartPath,
  body: AddCartItemInput,
  idempotency: () => 'POST items',
  responses: { 200: cartOk },
  errors: ['user_not_found', 'sku_not_found', 'quantity_limit_exceeded'],
  handler: async ({ params, body, idempotency }) =>
    written(await carts.addItem(params.userId, body.skuId, body.quantity, idempotency)),
});

export const setCartItem = defineRoute({
  name: 'setCartItem',
  method: 'PUT',
  path: '/carts/{userId}/items/{skuId}',
  authLevel: 'function',
  summary: "Set a line's quantity (0 removes it)",
  tag: 'carts',
  params: CartItemPath,
  headers: [ifMatch],
  body: SetCartItemInput,
  responses: { 200: cartOk },
  errors: ['user_not_found', 'sku_not_found', 'quantity_limit_exceeded', 'precondition_failed'],
  handler: async ({ params, body, request }) =>
    written(await carts.setItem(params.userId, params.skuId, body.quantity, parseIfMatch(request))),
});

export const removeCartItem = defineRoute({
  name: 'removeCartItem',
  method: 'DELETE',
  path: '/carts/{userId}/items/{skuId}',
  authLevel: 'function',
  summary: 'Decrement a line by quantity, or remove it',
  tag: 'carts',
  params: CartItemPath,
  query: RemoveCartItemQuery,
  headers: [ifMatch],
  idempotency: ({ params, query }) => `DELETE items/${params.skuId}?quantity=${query.quantity ?? ''}`,
  responses: { 200: cartOk },
  errors: ['user_not_found', 'cart_line_not_found', 'precondition_failed'],
  handler: async ({ params, query, request, idempotency }) =>
    written(
      await carts.removeItem(params.userId, params.skuId, query.quantity, parseIfMatch(request), idempotency),
    ),
});
