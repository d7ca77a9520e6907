import { hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { getConfig } from '../config.js';
import { errors, isRedisUnavailable } from '../errors.js';
import type { Idempotency, Outcome } from '../idempotency.js';
import { formatCents } from '../money.js';
import { getRedis } from '../redis/client.js';
import type { Redis } from '../redis/connect.js';
import { type SkuReader, skuReader } from '../redis/skuReader.js';
import { findSkus, findSkusMemoized, type ReadSku } from '../skus/store.js';
import { currentGeneration } from '../users/generations.js';
import type { Cart, CartLine, IfMatch } from './schema.js';
import {
  addToLine,
  type CartWrite,
  clearLines,
  guestGeneration,
  type Holder,
  lineQuantity,
  linesHash,
  readCart,
  removeFromLine,
  setLine,
} from './store.js';

export type { Holder } from './store.js';

/** A user's cart. */
export const userCart = (id: string): Holder => ({ kind: 'user', id });

/** The `userId` a cart's body shows: null for a guest's. */
const ownerId = (holder: Holder) => (holder.kind === 'user' ? holder.id : null);

/** How long a cart lives after its last write: a guest's less long (GUEST_CART_TTL_DAYS) than a customer's. */
const ttlOf = (holder: Holder) =>
  holder.kind === 'user' ? getConfig().cartTtlSeconds : getConfig().guestCartTtlSeconds;

/** The error for a cart that is not there: no such user, or no live guest cart. */
export const cartNotFound = (holder: Holder) =>
  holder.kind === 'user' ? errors.userNotFound(holder.id) : errors.guestCartNotFound();

/** A cart, its JSON text (the body) and its version tag (the ETag); no tag for a cart answered without prices. */
export interface VersionedCart {
  cart: Cart;
  text: string;
  etag: string | undefined;
}

/**
 * Prices the lines: every SKU read at once, through the SKU reader (its client-side cache, synchronised
 * with Redis when the reader is ready); money in integer cents (BigInt past 2^53).
 */
async function price(
  holder: Holder,
  lines: Record<string, string>,
  reader: Promise<SkuReader> = skuReader(),
): Promise<VersionedCart> {
  const skuIds = Object.keys(lines).sort();
  const { redis, memo } = await reader;
  const skus = memo ? await findSkusMemoized(redis, memo, skuIds) : await findSkus(redis, skuIds);
  return priced(ownerId(holder), lines, skuIds, skus);
}

function priced(
  userId: string | null,
  lines: Record<string, string>,
  skuIds: string[],
  skus: Array<ReadSku | undefined>,
): VersionedCart {
  let total = 0;
  let bigTotal = 0n;
  let totalQuantity = 0;
  const items: CartLine[] = skuIds.map((skuId, i) => {
    const quantity = lineQuantity(lines[skuId]);
    const sku = skus[i];
    const unit = sku?.cents;
    // A SKU deleted (or a price not readable), or a line that is not a whole number: unavailable, no total.
    if (!sku || unit === undefined || quantity === 0) {
      return { skuId, name: sku?.name ?? null, unitPrice: null, quantity, lineTotal: null, available: false };
    }
    let line: number | bigint = unit * quantity;
    if (Number.isSafeInteger(line) && Number.isSafeInteger(total + line)) {
      total += line;
    } else {
      // Past 2^53 cents plain numbers lose precision; finish the sum exactly.
      line = BigInt(unit) * BigInt(quantity);
      bigTotal += line;
    }
    totalQuantity += quantity;
    return {
      skuId,
      name: sku.name,
      unitPrice: formatCents(unit),
      quantity,
      lineTotal: formatCents(line),
      available: true,
    };
  });
  const sum = bigTotal === 0n ? total : bigTotal + BigInt(total);
  const cart: Cart = { userId, items, totalQuantity, total: formatCents(sum) };
  const text = JSON.stringify(cart);
  // A strong validator of the representation: it changes whenever the body would, a price change included.
  return { cart, text, etag: hash('sha1', text) };
}

/** The lines as they are, without prices or availability (no ETag: it stands for a priced body). */
function unpriced(userId: string | null, lines: Record<string, string>): VersionedCart {
  const items: CartLine[] = Object.keys(lines)
    .sort()
    .map((skuId) => ({
      skuId,
      name: null,
      unitPrice: null,
      quantity: lineQuantity(lines[skuId]),
      lineTotal: null,
      available: null,
    }));
  const totalQuantity = items.reduce((sum, l) => sum + l.quantity, 0);
  const cart: Cart = { userId, items, totalQuantity, total: null, priced: false };
  return { cart, text: JSON.stringify(cart), etag: undefined };
}

/**
 * Runs a step that is safe to run again, again while Redis is unavailable, until the deadline
 * (`REDIS_DEADLINE_MS`); then the last error. For what must not end in a 503 if it can be helped.
 */
export async function untilDeadline<T>(step: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + (getConfig().redis.deadlineMs || 2000);
  for (let pause = 50; ; pause *= 2) {
    try {
      return await step();
    } catch (err) {
      if (!isRedisUnavailable(err) || Date.now() + pause >= giveUpAt) throw err;
      await sleep(pause);
    }
  }
}

/**
 * The answer to a write that was applied: the cart priced, with the pricing retried within the deadline
 * when Redis is unavailable; past it, the cart without prices (`priced: false`). Never a 503: it would
 * invite the client to apply again what is already applied. Only an outage is forgiven here, as when a
 * user is created; anything else is a bug to report.
 */
export async function answerApplied(holder: Holder, lines: Record<string, string>): Promise<VersionedCart> {
  try {
    return await untilDeadline(() => price(holder, lines));
  } catch (err) {
    if (!isRedisUnavailable(err)) throw err;
    return unpriced(ownerId(holder), lines);
  }
}

/**
 * The incarnation of a cart's owner that writes act for; 404 when there is no such user. A user made
 * outside the API (Redis Insight, the classic demo) gets one on its first cart write. A guest cart has
 * one, always the same (its scripts refuse writes to a cart that is not live).
 */
export async function generationOf(redis: Redis, holder: Holder): Promise<number> {
  return holder.kind === 'guest' ? guestGeneration() : currentGeneration(redis, holder.id);
}

/** The lines a write left and whether it was a replay, or the error for why it did nothing. */
export function settle(
  write: CartWrite,
  holder: Holder,
  skuId: string,
): { lines: Record<string, string>; replayed: boolean } {
  switch (write.status) {
    case 'ok':
      return { lines: write.lines, replayed: false };
    case 'replayed':
      return { lines: write.lines, replayed: true };
    case 'reused':
      throw errors.idempotencyKeyReused();
    case 'limit':
      throw errors.quantityLimitExceeded(getConfig().maxLineQuantity, { skuId, current: write.current });
    case 'precondition':
      throw errors.preconditionFailed();
    case 'absent':
      throw errors.cartLineNotFound(ownerId(holder), skuId);
    case 'gone':
      // The user was deleted (or deleted and created again) while this request ran; the guest cart
      // expired, or a merge froze it.
      throw cartNotFound(holder);
  }
}

/**
 * The lines hash a conditional write must still find, or '' for an unconditional one. The ETag covers
 * prices too, so it is compared here, on the priced cart; the write then checks atomically that the lines
 * have not changed since. (A price changed between the two is the one change this cannot see.)
 */
async function expectedLines(redis: Redis, holder: Holder, ifMatch: IfMatch): Promise<string> {
  if (ifMatch === undefined || ifMatch === '*') return '';
  const current = await readCart(redis, holder);
  if (current.user === 'absent') throw cartNotFound(holder);
  const { etag } = await price(holder, current.lines);
  if (etag === undefined || !ifMatch.includes(etag)) throw errors.preconditionFailed();
  return linesHash(current.lines);
}

/** Reads a cart with totals; 404 for an unknown user or guest cart. At most two round trips whatever its size. */
export async function getCart(holder: Holder): Promise<VersionedCart> {
  const redis = await getRedis();
  // The SKU reader gets ready (its PING) while the cart is read: no round trip is added.
  const [read, reader] = await Promise.all([readCart(redis, holder), skuReader()]);
  if (read.user === 'absent') throw cartNotFound(holder);
  return price(holder, read.lines, Promise.resolve(reader));
}

/** Applies a cart write's outcome: the priced cart (see answerApplied), or the error. */
async function answer(write: CartWrite, holder: Holder, skuId: string): Promise<Outcome<VersionedCart>> {
  const { lines, replayed } = settle(write, holder, skuId);
  return { value: await answerApplied(holder, lines), replayed };
}

/**
 * Adds to a line atomically; 404 for an unknown user or SKU, 409 past the per-line maximum. With an
 * Idempotency-Key it is applied at most once: a key applied before answers the cart as it is now.
 */
export async function addItem(
  holder: Holder,
  skuId: string,
  quantity: number,
  idempotency?: Idempotency,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const [max, ttl] = [getConfig().maxLineQuantity, ttlOf(holder)];
  // Existence checks come first and the write touches only the cart's slot: a SKU deleted in between
  // leaves a line that reads as unavailable, never a wrong total; a user deleted in between is refused.
  const [g, [sku]] = await Promise.all([generationOf(redis, holder), findSkus(redis, [skuId])]);
  if (!sku) throw errors.skuNotFound(skuId);
  if (quantity > max) throw errors.quantityLimitExceeded(max);
  const write = await addToLine(redis, holder, g, { skuId, quantity, max, ttl }, idempotency);
  return answer(write, holder, skuId);
}

/** Sets a line's quantity (0 removes it) if `ifMatch` still matches; 404 for an unknown user or SKU. */
export async function setItem(
  holder: Holder,
  skuId: string,
  quantity: number,
  ifMatch: IfMatch,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const [maxLineQuantity, ttl] = [getConfig().maxLineQuantity, ttlOf(holder)];
  const [g, [sku]] = await Promise.all([generationOf(redis, holder), findSkus(redis, [skuId])]);
  if (!sku && quantity > 0) throw errors.skuNotFound(skuId);
  if (quantity > maxLineQuantity) throw errors.quantityLimitExceeded(maxLineQuantity);
  const expected = await expectedLines(redis, holder, ifMatch);
  const write = await setLine(redis, holder, g, { skuId, quantity, ttl, expected });
  return answer(write, holder, skuId);
}

/** Decrements a line by `quantity`, or removes it; 404 when the line is absent; at most once per Idempotency-Key. */
export async function removeItem(
  holder: Holder,
  skuId: string,
  quantity: number | undefined,
  ifMatch: IfMatch,
  idempotency?: Idempotency,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const g = await generationOf(redis, holder);
  const expected = await expectedLines(redis, holder, ifMatch);
  const ttl = ttlOf(holder);
  const write = await removeFromLine(redis, holder, g, { skuId, quantity, ttl, expected }, idempotency);
  return answer(write, holder, skuId);
}

/** Empties a cart; 404 for an unknown user or guest cart. */
export async function clearCart(holder: Holder): Promise<void> {
  const redis = await getRedis();
  settle(await clearLines(redis, holder, await generationOf(redis, holder)), holder, '');
}
