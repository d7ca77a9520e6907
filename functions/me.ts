import { z } from 'zod';

import type { Principal } from '../shared/auth/verify.js';
import * as guests from '../shared/carts/guests.js';
import { AddCartItemInput, RemoveCartItemQuery, SetCartItemInput } from '../shared/carts/schema.js';
import * as carts from '../shared/carts/service.js';
import { AppError, type ErrorCode, errors } from '../shared/errors.js';
import {
  cartOk,
  cartResponse,
  cartTokenHeader,
  cartTokenOf,
  ifMatchHeader,
  written,
} from '../shared/http/carts.js';
import { parseIfMatch } from '../shared/http/request.js';
import { defineRoute, empty, json } from '../shared/http/route.js';
import { Id } from '../shared/ids.js';
import { User } from '../shared/users/schema.js';
import * as users from '../shared/users/service.js';

// The signed-in shopper's own resources: anonymous at the host, the bearer token checked by the app. The
// user id is the token's, never a path parameter, so no route can name (or reveal) another shopper's cart.
const signIn: ErrorCode[] = ['unauthorized', 'auth_unavailable', 'sign_in_not_configured'];
const LinePath = z.object({ skuId: Id });

/**
 * Runs a cart action for the shopper. Their `user:{id}` is created from the token on the first request that
 * finds none (the cart service answers user_not_found before changing anything), so later requests pay no
 * extra round trip for it.
 */
async function forShopper<T>(
  principal: Principal | undefined,
  act: (cart: carts.Holder, userId: string) => Promise<T>,
): Promise<T> {
  if (!principal) throw errors.unauthorized();
  try {
    return await act(carts.userCart(principal.userId), principal.userId);
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'user_not_found')) throw err;
    await users.profileOf(principal);
    return act(carts.userCart(principal.userId), principal.userId);
  }
}

export const getMe = defineRoute({
  name: 'getMe',
  method: 'GET',
  path: '/me',
  authLevel: 'anonymous',
  bearer: true,
  summary: "The signed-in shopper's profile, created from the token's claims on first use",
  tag: 'me',
  responses: { 200: { description: 'The profile', schema: User } },
  errors: signIn,
  handler: async ({ principal }) => {
    if (!principal) throw errors.unauthorized();
    return json(200, await users.profileOf(principal));
  },
});

export const getMyCart = defineRoute({
  name: 'getMyCart',
  method: 'GET',
  path: '/me/cart',
  authLevel: 'anonymous',
  bearer: true,
  summary: "The signed-in shopper's cart with line and grand totals",
  tag: 'me',
  responses: { 200: cartOk },
  errors: signIn,
  handler: async ({ principal }) => cartResponse(await forShopper(principal, (cart) => carts.getCart(cart))),
});

export const clearMyCart = defineRoute({
  name: 'clearMyCart',
  method: 'DELETE',
  path: '/me/cart',
  authLevel: 'anonymous',
  bearer: true,
  summary: "Empty the signed-in shopper's cart",
  tag: 'me',
  responses: { 204: { description: 'Emptied' } },
  errors: signIn,
  handler: async ({ principal }) => {
    await forShopper(principal, (cart) => carts.clearCart(cart));
    return empty();
  },
});

export const addMyCartItem = defineRoute({
  name: 'addMyCartItem',
  method: 'POST',
  path: '/me/cart/items',
  authLevel: 'anonymous',
  bearer: true,
  summary: "Add to a line of the signed-in shopper's cart",
  tag: 'me',
  body: AddCartItemInput,
  idempotency: () => 'POST items',
  responses: { 200: cartOk },
  errors: [...signIn, 'sku_not_found', 'quantity_limit_exceeded'],
  handler: async ({ principal, body, idempotency }) =>
    written(
      await forShopper(principal, (cart) => carts.addItem(cart, body.skuId, body.quantity, idempotency)),
    ),
});

export const setMyCartItem = defineRoute({
  name: 'setMyCartItem',
  method: 'PUT',
  path: '/me/cart/items/{skuId}',
  authLevel: 'anonymous',
  bearer: true,
  summary: "Set a line's quantity in the signed-in shopper's cart (0 removes it)",
  tag: 'me',
  params: LinePath,
  headers: [ifMatchHeader],
  body: SetCartItemInput,
  responses: { 200: cartOk },
  errors: [...signIn, 'sku_not_found', 'quantity_limit_exceeded', 'precondition_failed'],
  handler: async ({ principal, params, body, request }) =>
    written(
      await forShopper(principal, (cart) =>
        carts.setItem(cart, params.skuId, body.quantity, parseIfMatch(request)),
      ),
    ),
});

export const removeMyCartItem = defineRoute({
  name: 'removeMyCartItem',
  method: 'DELETE',
  path: '/me/cart/items/{skuId}',
  authLevel: 'anonymous',
  bearer: true,
  summary: "Decrement a line of the signed-in shopper's cart by quantity, or remove it",
  tag: 'me',
  params: LinePath,
  query: RemoveCartItemQuery,
  headers: [ifMatchHeader],
  idempotency: ({ params, query }) => `DELETE items/${params.skuId}?quantity=${query.quantity ?? ''}`,
  responses: { 200: cartOk },
  errors: [...signIn, 'cart_line_not_found', 'precondition_failed'],
  handler: async ({ principal, params, query, request, idempotency }) =>
    written(
      await forShopper(principal, (cart) =>
        carts.removeItem(cart, params.skuId, query.quantity, parseIfMatch(request), idempotency),
      ),
    ),
});

export const mergeMyCart = defineRoute({
  name: 'mergeMyCart',
  method: 'POST',
  path: '/me/cart/merge',
  authLevel: 'anonymous',
  bearer: true,
  summary:
    "Merge the guest cart of the Cart-Token into the signed-in shopper's cart, exactly once: quantities of a SKU in both are summed, capped at the per-line maximum; the guest cart is then gone. A token merged into this cart before answers the cart",
  tag: 'me',
  headers: [cartTokenHeader],
  responses: { 200: cartOk },
  errors: [...signIn, 'guest_cart_not_found'],
  handler: async ({ principal, request }) => {
    const token = cartTokenOf(request);
    return cartResponse(await forShopper(principal, (_cart, userId) => guests.mergeGuestCart(userId, token)));
  },
});
