import { getConfig } from '../config.js';
import { AppError } from '../errors.js';
import { formatCents, parsePrice } from '../money.js';
import { getRedis, type Redis } from '../redis/client.js';
import { cartEtag } from '../redis/scripts.js';
import { findSkus } from '../skus/store.js';
import { userExists } from '../users/store.js';
import type { Cart, CartLine } from './schema.js';
import { addToLine, deleteCart, readCart, removeFromLine, setLine, type CartWrite } from './store.js';

/** A cart and its version tag (the ETag). */
export interface VersionedCart {
  cart: Cart;
  etag: string;
}

const userNotFound = (id: string) => new AppError(404, 'user_not_found', `User ${id} does not exist.`);

/** Prices the lines: one pipelined read of every SKU; money in integer cents (BigInt past 2^53). */
async function price(redis: Redis, userId: string, lines: Record<string, string>): Promise<VersionedCart> {
  const skuIds = Object.keys(lines).sort();
  const skus = await findSkus(redis, skuIds);
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
  return { cart: { userId, items, totalQuantity, total: formatCents(sum) }, etag: cartEtag(lines) };
}

function settle(write: CartWrite, userId: string, skuId: string): Record<string, string> {
  switch (write.status) {
    case 'ok':
      return write.lines;
    case 'limit':
      throw new AppError(
        409,
        'quantity_limit_exceeded',
        `A cart line may hold at most ${getConfig().maxLineQuantity}; ${skuId} has ${write.current}.`,
      );
    case 'precondition':
      throw new AppError(
        412,
        'precondition_failed',
        'The cart changed since the ETag in If-Match was issued.',
      );
    case 'absent':
      throw new AppError(404, 'cart_line_not_found', `The cart of ${userId} has no line for ${skuId}.`);
  }
}

/** Reads a cart with totals; 404 for an unknown user. At most two round trips whatever its size. */
export async function getCart(userId: string): Promise<VersionedCart> {
  const redis = await getRedis();
  const { userExists: exists, lines } = await readCart(redis, userId);
  if (!exists) throw userNotFound(userId);
  return price(redis, userId, lines);
}

/** Adds to a line atomically; 404 for an unknown user or SKU, 409 past the per-line maximum. */
export async function addItem(userId: string, skuId: string, quantity: number): Promise<VersionedCart> {
  const redis = await getRedis();
  const { maxLineQuantity, cartTtlSeconds } = getConfig();
  // Existence checks come first and the write touches only cart:{userId} (one hash slot): a SKU deleted
  // in between leaves a line that reads as unavailable, never a wrong total.
  const [exists, [sku]] = await Promise.all([userExists(redis, userId), findSkus(redis, [skuId])]);
  if (!exists) throw userNotFound(userId);
  if (!sku) throw new AppError(404, 'sku_not_found', `SKU ${skuId} does not exist.`);
  if (quantity > maxLineQuantity) {
    throw new AppError(409, 'quantity_limit_exceeded', `A cart line may hold at most ${maxLineQuantity}.`);
  }
  const write = await addToLine(redis, userId, skuId, quantity, maxLineQuantity, cartTtlSeconds);
  return price(redis, userId, settle(write, userId, skuId));
}

/** Sets a line's quantity (0 removes it) if `ifMatch` still matches; 404 for an unknown user or SKU. */
export async function setItem(
  userId: string,
  skuId: string,
  quantity: number,
  ifMatch: string,
): Promise<VersionedCart> {
  const redis = await getRedis();
  const { maxLineQuantity, cartTtlSeconds } = getConfig();
  const [exists, [sku]] = await Promise.all([userExists(redis, userId), findSkus(redis, [skuId])]);
  if (!exists) throw userNotFound(userId);
  if (!sku && quantity > 0) throw new AppError(404, 'sku_not_found', `SKU ${skuId} does not exist.`);
  if (quantity > maxLineQuantity) {
    throw new AppError(409, 'quantity_limit_exceeded', `A cart line may hold at most ${maxLineQuantity}.`);
  }
  return price(
    redis,
    userId,
    settle(await setLine(redis, userId, skuId, quantity, cartTtlSeconds, ifMatch), userId, skuId),
  );
}

/** Decrements a line by `quantity`, or removes it; 404 when the line is absent. */
export async function removeItem(
  userId: string,
  skuId: string,
  quantity: number | undefined,
  ifMatch: string,
): Promise<VersionedCart> {
  const redis = await getRedis();
  if (!(await userExists(redis, userId))) throw userNotFound(userId);
  const write = await removeFromLine(redis, userId, skuId, quantity, getConfig().cartTtlSeconds, ifMatch);
  return price(redis, userId, settle(write, userId, skuId));
}

/** Empties a cart; 404 for an unknown user. */
export async function clearCart(userId: string): Promise<void> {
  const redis = await getRedis();
  if (!(await userExists(redis, userId))) throw userNotFound(userId);
  await deleteCart(redis, userId);
}
