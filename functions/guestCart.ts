import { z } from 'zod';

import * as guests from '../shared/carts/guests.js';
import { guestCart } from '../shared/carts/guests.js';
import {
  AddCartItemInput,
  GuestCartCreated,
  RemoveCartItemQuery,
  SetCartItemInput,
} from '../shared/carts/schema.js';
import * as carts from '../shared/carts/service.js';
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

// A guest's cart: anonymous at the host and in the app; the Cart-Token header is what opens it. The cart
// routes' bodies, answers, ETag/If-Match and Idempotency-Key rules, on the guest's cart.
const LinePath = z.object({ skuId: Id });
const token = [cartTokenHeader];

export const createGuestCart = defineRoute({
  name: 'createGuestCart',
  method: 'POST',
  path: '/guest-cart',
  authLevel: 'anonymous',
  summary: 'Start a guest cart: answers its Cart-Token (shown this once) and the empty cart',
  tag: 'guest cart',
  responses: { 201: { description: 'The new cart and its token', schema: GuestCartCreated } },
  handler: async () => {
    const { cartToken, cart } = await guests.createGuestCart();
    return json(201, { cartToken, cart: cart.cart });
  },
});

export const getGuestCart = defineRoute({
  name: 'getGuestCart',
  method: 'GET',
  path: '/guest-cart',
  authLevel: 'anonymous',
  summary: 'Read the guest cart with line and grand totals',
  tag: 'guest cart',
  headers: token,
  responses: { 200: cartOk },
  errors: ['guest_cart_not_found'],
  handler: async ({ request }) => cartResponse(await carts.getCart(guestCart(cartTokenOf(request)))),
});

export const clearGuestCart = defineRoute({
  name: 'clearGuestCart',
  method: 'DELETE',
  path: '/guest-cart',
  authLevel: 'anonymous',
  summary: 'Empty the guest cart',
  tag: 'guest cart',
  headers: token,
  responses: { 204: { description: 'Emptied' } },
  errors: ['guest_cart_not_found'],
  handler: async ({ request }) => {
    await carts.clearCart(guestCart(cartTokenOf(request)));
    return empty();
  },
});

export const addGuestCartItem = defineRoute({
  name: 'addGuestCartItem',
  method: 'POST',
  path: '/guest-cart/items',
  authLevel: 'anonymous',
  summary: 'Add to a line of the guest cart',
  tag: 'guest cart',
  headers: token,
  body: AddCartItemInput,
  idempotency: () => 'POST items',
  responses: { 200: cartOk },
  errors: ['guest_cart_not_found', 'sku_not_found', 'quantity_limit_exceeded'],
  handler: async ({ request, body, idempotency }) =>
    written(await carts.addItem(guestCart(cartTokenOf(request)), body.skuId, body.quantity, idempotency)),
});

export const setGuestCartItem = defineRoute({
  name: 'setGuestCartItem',
  method: 'PUT',
  path: '/guest-cart/items/{skuId}',
  authLevel: 'anonymous',
  summary: "Set a line's quantity in the guest cart (0 removes it)",
  tag: 'guest cart',
  params: LinePath,
  headers: [...token, ifMatchHeader],
  body: SetCartItemInput,
  responses: { 200: cartOk },
  errors: ['guest_cart_not_found', 'sku_not_found', 'quantity_limit_exceeded', 'precondition_failed'],
  handler: async ({ request, params, body }) =>
    written(
      await carts.setItem(
        guestCart(cartTokenOf(request)),
        params.skuId,
        body.quantity,
        parseIfMatch(request),
      ),
    ),
});

export const removeGuestCartItem = defineRoute({
  name: 'removeGuestCartItem',
  method: 'DELETE',
  path: '/guest-cart/items/{skuId}',
  authLevel: 'anonymous',
  summary: 'Decrement a line of the guest cart by quantity, or remove it',
  tag: 'guest cart',
  params: LinePath,
  query: RemoveCartItemQuery,
  headers: [...token, ifMatchHeader],
  idempotency: ({ params, query }) => `DELETE items/${params.skuId}?quantity=${query.quantity ?? ''}`,
  responses: { 200: cartOk },
  errors: ['guest_cart_not_found', 'cart_line_not_found', 'precondition_failed'],
  handler: async ({ request, params, query, idempotency }) =>
    written(
      await carts.removeItem(
        guestCart(cartTokenOf(request)),
        params.skuId,
        query.quantity,
        parseIfMatch(request),
        idempotency,
      ),
    ),
});
