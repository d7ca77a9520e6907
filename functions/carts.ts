import {
  AddCartItemInput,
  CartItemPath,
  CartPath,
  RemoveCartItemQuery,
  SetCartItemInput,
} from '../shared/carts/schema.js';
import * as carts from '../shared/carts/service.js';
import { cartOk, cartResponse, ifMatchHeader as ifMatch, written } from '../shared/http/carts.js';
import { parseIfMatch } from '../shared/http/request.js';
import { defineRoute, empty } from '../shared/http/route.js';

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
  handler: async ({ params }) => cartResponse(await carts.getCart(carts.userCart(params.userId))),
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
    await carts.clearCart(carts.userCart(params.userId));
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
    written(await carts.addItem(carts.userCart(params.userId), body.skuId, body.quantity, idempotency)),
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
    written(
      await carts.setItem(carts.userCart(params.userId), params.skuId, body.quantity, parseIfMatch(request)),
    ),
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
      await carts.removeItem(
        carts.userCart(params.userId),
        params.skuId,
        query.quantity,
        parseIfMatch(request),
        idempotency,
      ),
    ),
});
