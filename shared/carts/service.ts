import { createHash } from 'node:crypto';
import { getConfig } from '../config.js';
import { errors } from '../errors.js';
import type { IfMatch } from '../http/request.js';
import { formatCents, parsePrice } from '../money.js';
import { getRedis, type Redis } from '../redis/client.js';
import { linesHash } from '../redis/scripts.js';
import { findSkus, type StoredSku } from '../skus/store.js';
import { adoptGeneration, readGeneration } from '../users/store.js';
import type { Cart, CartLine } from './schema.js';
import {
  addToLine,
  clearLines,
  readCart,
  removeFromLine,
  reserveGeneration,
  setLine,
  type CartWrite,
} from './store.js';

/** A cart and its version tag (the ETag). */
export interface VersionedCart {
  cart: Cart;
  etag: string;
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
    const quantity = Number(lines[skuId]);
    const sku = skus[i];
    const unit = sku ? parsePrice(sku.price) : undefined;
    if (!sku || unit === undefined) {
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

function settle(write: CartWrite, userId: string, skuId: string): Record<string, string> {
  switch (write.status) {
    case 'ok':
      return write.lines;
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
  if (!ifMatch.includes(etag)) throw errors.preconditionFailed();
  return linesHash(current.lines);
}

/** Reads a cart with totals; 404 for an unknown user. At most two round trips whatever its size. */
export async function getCart(userId: string): Promise<VersionedCart> {
  const redis = await getRedis();
  const read = await readCart(redis, userId);
  if (read.user === 'absent') throw errors.userNotFound(userId);
  return price(redis, userId, read.lines);
}

/** Adds to a line atomically; 404 for an unknown user or SKU, 409 past the per-line maximum. */
export async function addItem(userId: string, skuId: string, quantity: number): Promise<VersionedCart> {
  const redis = await getRedis();
  const { maxLineQuantity: max, cartTtlSeconds: ttl } = getConfig();
  // Existence checks come first and the write touches only the cart's slot: a SKU deleted in between
  // leaves a line that reads as unavailable, never a wrong total; a user deleted in between is refused.
  const [g, [sku]] = await Promise.all([generationOf(redis, userId), findSkus(redis, [skuId])]);
  if (!sku) throw errors.skuNotFound(skuId);
  if (quantity > max) throw errors.quantityLimitExceeded(max);
  const write = await addToLine(redis, userId, g, { skuId, quantity, max, ttl });
  return price(redis, userId, settle(write, userId, skuId));
}

/** Sets a line's quantity (0 removes it) if `ifMatch` still matches; 404 for an unknown user or SKU. */
export async function setItem(
  userId: string,
  skuId: string,
  quantity: number,
  ifMatch: IfMatch,
): Promise<VersionedCart> {
  const redis = await getRedis();
  const { maxLineQuantity, cartTtlSeconds: ttl } = getConfig();
  const [g, [sku]] = await Promise.all([generationOf(redis, userId), findSkus(redis, [skuId])]);
  if (!sku && quantity > 0) throw errors.skuNotFound(skuId);
  if (quantity > maxLineQuantity) throw errors.quantityLimitExceeded(maxLineQuantity);
  const expected = await expectedLines(redis, userId, ifMatch);
  const write = await setLine(redis, userId, g, { skuId, quantity, ttl, expected });
  return price(redis, userId, settle(write, userId, skuId));
}

/** Decrements a line by `quantity`, or removes it; 404 when the line is absent. */
export async function removeItem(
  userId: string,
  skuId: string,
  quantity: number | undefined,
  ifMatch: IfMatch,
): Promise<VersionedCart> {
  const redis = await getRedis();
  const g = await generationOf(redis, userId);
  const expected = await expectedLines(redis, userId, ifMatch);
  const write = await removeFromLine(redis, userId, g, {
    skuId,
    quantity,
    ttl: getConfig().cartTtlSeconds,
    expected,
  });
  return price(redis, userId, settle(write, userId, skuId));
}

/** Empties a cart; 404 for an unknown user. */
export async function clearCart(userId: string): Promise<void> {
  const redis = await getRedis();
  settle(await clearLines(redis, userId, await generationOf(redis, userId)), userId, '');
}
