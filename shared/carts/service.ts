import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { getConfig } from '../config.js';
import { errors, isRedisUnavailable } from '../errors.js';
import type { IfMatch } from '../http/request.js';
import type { Idempotency, Outcome } from '../idempotency.js';
import { formatCents, parsePrice } from '../money.js';
import { getRedis, type Redis } from '../redis/client.js';
import { findSkus, type StoredSku } from '../skus/store.js';
import { adoptGeneration, readGeneration } from '../users/store.js';
import type { Cart, CartLine } from './schema.js';
import {
  addToLine,
  type CartWrite,
  clearLines,
  lineQuantity,
  linesHash,
  readCart,
  removeFromLine,
  reserveGeneration,
  setLine,
} from './store.js';

/** A cart and its version tag (the ETag); no tag for a cart answered without prices. */
export interface VersionedCart {
  cart: Cart;
  etag: string | undefined;
}

/** Prices the lines: one pipelined read of every SKU; money in integer cents (BigInt past 2^53). */
async function price(redis: Redis, userId: string, lines: Record<string, string>): Promise<VersionedCart> {
  const skuIds = Object.keys(lines).sort();
  return priced(userId, lines, skuIds, await findSkus(redis, skuIds));
}

function priced(
  userId: string,
  lines: Record<string, string>,
  skuIds: string[],
  skus: Array<StoredSku | undefined>,
): VersionedCart {
  let total = 0;
  let bigTotal = 0n;
  let totalQuantity = 0;
  const items: CartLine[] = skuIds.map((skuId, i) => {
    const quantity = lineQuantity(lines[skuId]);
    const sku = skus[i];
    const unit = sku ? parsePrice(sku.price) : undefined;
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
  // A strong validator of the representation: it changes whenever the body would, a price change included.
  return { cart, etag: createHash('sha1').update(JSON.stringify(cart)).digest('hex') };
}

/** The lines as they are, without prices or availability (no ETag: it stands for a priced body). */
function unpriced(userId: string, lines: Record<string, string>): VersionedCart {
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
  return { cart: { userId, items, totalQuantity, total: null, priced: false }, etag: undefined };
}

/**
 * The answer to a write that was applied: the cart priced, with the pricing retried within the deadline
 * when Redis is unavailable; past it, the cart without prices (`priced: false`). Never a 503: it would
 * invite the client to apply again what is already applied. Only an outage is forgiven here, as when a
 * user is created; anything else is a bug to report.
 */
async function answerApplied(
  redis: Redis,
  userId: string,
  lines: Record<string, string>,
): Promise<VersionedCart> {
  const giveUpAt = Date.now() + (getConfig().redis.deadlineMs || 2000);
  for (let pause = 50; ; pause *= 2) {
    try {
      return await price(redis, userId, lines);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      if (Date.now() + pause >= giveUpAt) return unpriced(userId, lines);
      await sleep(pause);
    }
  }
}

/**
 * The incarnation of a user that cart writes act for; 404 when there is no such user. A user made
 * outside the API (Redis Insight, the classic demo) gets one on its first cart write.
 */
async function generationOf(redis: Redis, userId: string): Promise<number> {
  const { exists, generation } = await readGeneration(redis, userId);
  if (!exists) throw errors.userNotFound(userId);
  if (generation !== undefined) return generation;
  const adopted = await adoptGeneration(redis, userId, await reserveGeneration(redis, userId));
  if (adopted === undefined) throw errors.userNotFound(userId);
  return adopted;
}

/** The lines a write left and whether it was a replay, or the error for why it did nothing. */
function settle(
  write: CartWrite,
  userId: string,
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
      throw errors.cartLineNotFound(userId, skuId);
    case 'gone':
      // The user was deleted (or deleted and created again) while this request ran.
      throw errors.userNotFound(userId);
  }
}

/**
 * The lines hash a conditional write must still find, or '' for an unconditional one. The ETag covers
 * prices too, so it is compared here, on the priced cart; the write then checks atomically that the lines
 * have not changed since. (A price changed between the two is the one change this cannot see.)
 */
async function expectedLines(redis: Redis, userId: string, ifMatch: IfMatch): Promise<string> {
  if (ifMatch === undefined || ifMatch === '*') return '';
  const current = await readCart(redis, userId);
  if (current.user === 'absent') throw errors.userNotFound(userId);
  const { etag } = await price(redis, userId, current.lines);
  if (etag === undefined || !ifMatch.includes(etag)) throw errors.preconditionFailed();
  return linesHash(current.lines);
}

/** Reads a cart with totals; 404 for an unknown user. At most two round trips whatever its size. */
export async function getCart(userId: string): Promise<VersionedCart> {
  const redis = await getRedis();
  const read = await readCart(redis, userId);
  if (read.user === 'absent') throw errors.userNotFound(userId);
  return price(redis, userId, read.lines);
}

/** Applies a cart write's outcome: the priced cart (see answerApplied), or the error. */
async function answer(
  redis: Redis,
  write: CartWrite,
  userId: string,
  skuId: string,
): Promise<Outcome<VersionedCart>> {
  const { lines, replayed } = settle(write, userId, skuId);
  return { value: await answerApplied(redis, userId, lines), replayed };
}

/**
 * Adds to a line atomically; 404 for an unknown user or SKU, 409 past the per-line maximum. With an
 * Idempotency-Key it is applied at most once: a key applied before answers the cart as it is now.
 */
export async function addItem(
  userId: string,
  skuId: string,
  quantity: number,
  idempotency?: Idempotency,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const { maxLineQuantity: max, cartTtlSeconds: ttl } = getConfig();
  // Existence checks come first and the write touches only the cart's slot: a SKU deleted in between
  // leaves a line that reads as unavailable, never a wrong total; a user deleted in between is refused.
  const [g, [sku]] = await Promise.all([generationOf(redis, userId), findSkus(redis, [skuId])]);
  if (!sku) throw errors.skuNotFound(skuId);
  if (quantity > max) throw errors.quantityLimitExceeded(max);
  const write = await addToLine(redis, userId, g, { skuId, quantity, max, ttl }, idempotency);
  return answer(redis, write, userId, skuId);
}

/** Sets a line's quantity (0 removes it) if `ifMatch` still matches; 404 for an unknown user or SKU. */
export async function setItem(
  userId: string,
  skuId: string,
  quantity: number,
  ifMatch: IfMatch,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const { maxLineQuantity, cartTtlSeconds: ttl } = getConfig();
  const [g, [sku]] = await Promise.all([generationOf(redis, userId), findSkus(redis, [skuId])]);
  if (!sku && quantity > 0) throw errors.skuNotFound(skuId);
  if (quantity > maxLineQuantity) throw errors.quantityLimitExceeded(maxLineQuantity);
  const expected = await expectedLines(redis, userId, ifMatch);
  const write = await setLine(redis, userId, g, { skuId, quantity, ttl, expected });
  return answer(redis, write, userId, skuId);
}

/** Decrements a line by `quantity`, or removes it; 404 when the line is absent; at most once per Idempotency-Key. */
export async function removeItem(
  userId: string,
  skuId: string,
  quantity: number | undefined,
  ifMatch: IfMatch,
  idempotency?: Idempotency,
): Promise<Outcome<VersionedCart>> {
  const redis = await getRedis();
  const g = await generationOf(redis, userId);
  const expected = await expectedLines(redis, userId, ifMatch);
  const ttl = getConfig().cartTtlSeconds;
  const write = await removeFromLine(redis, userId, g, { skuId, quantity, ttl, expected }, idempotency);
  return answer(redis, write, userId, skuId);
}

/** Empties a cart; 404 for an unknown user. */
export async function clearCart(userId: string): Promise<void> {
  const redis = await getRedis();
  settle(await clearLines(redis, userId, await generationOf(redis, userId)), userId, '');
}
