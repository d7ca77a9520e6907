import type { Idempotency } from '../idempotency.js';
import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';
import { runScript } from '../redis/scripts.js';
import {
  CART_ADD,
  CART_CLEAR,
  CART_CLOSE,
  CART_OPEN,
  CART_READ,
  CART_REMOVE,
  CART_RESERVE,
  CART_SET,
  type CartWrite,
} from './scripts.js';

export type { CartWrite } from './scripts.js';
export { lineQuantity, linesHash } from './scripts.js';

// How long the owner record of a deleted user's cart stays, so that writes still in flight find it; also
// how long a generation reserved by a create that then failed is remembered.
const CLOSED_OWNER_TTL_S = 86_400;

// The optional idempotency record of a write: its key (in the cart's slot) and the fingerprint it keeps.
function recorded(userId: string, idempotency: Idempotency | undefined): { keys: string[]; args: string[] } {
  return idempotency
    ? { keys: [keys.cartIdempotency(userId, idempotency.key)], args: [idempotency.fingerprint] }
    : { keys: [], args: [] };
}

/** What a cart read finds: no such user, a user being deleted, or the lines the user's cart holds. */
export type CartRead = { user: 'absent' } | { user: 'present'; lines: Record<string, string> };

/**
 * Reads the user's existence and incarnation, the cart and its owner record in one round trip. A user
 * whose incarnation was deleted reads as absent; lines left by an older incarnation read as none.
 */
export async function readCart(redis: Redis, userId: string): Promise<CartRead> {
  const [exists, generation, { lines, live, closed }] = await Promise.all([
    redis.exists(keys.user(userId)),
    redis.get(keys.userGeneration(userId)),
    runScript(redis, CART_READ, [keys.cart(userId), keys.cartOwner(userId)], []),
  ]);
  if (exists !== 1) return { user: 'absent' };
  // A user made outside the API (Redis Insight, the classic demo) has no generation yet: its cart is as is.
  if (generation === null) return { user: 'present', lines };
  const g = Number(generation);
  if (g <= closed) return { user: 'absent' };
  // Mirrors `owns` in the cart scripts: the lines are this user's, or would be kept at its first write.
  const mine = g === live || (live === 0 && closed === 0);
  return { user: 'present', lines: mine ? lines : {} };
}

/** Issues a new generation for a user id (in the cart's slot, where writes check it). */
export async function reserveGeneration(redis: Redis, userId: string): Promise<number> {
  return runScript(redis, CART_RESERVE, [keys.cartOwner(userId)], [String(CLOSED_OWNER_TTL_S)]);
}

/** Hands the cart to generation `g`, empty; false when `g` is already stale. */
export async function openCart(redis: Redis, userId: string, g: number): Promise<boolean> {
  return (await runScript(redis, CART_OPEN, [keys.cart(userId), keys.cartOwner(userId)], [String(g)])) === 1;
}

/** Marks generation `g` deleted and drops its cart: no write for it succeeds from now on. */
export async function closeCart(redis: Redis, userId: string, g: number): Promise<void> {
  await runScript(
    redis,
    CART_CLOSE,
    [keys.cartOwner(userId), keys.cart(userId)],
    [String(g), String(CLOSED_OWNER_TTL_S)],
  );
}

/**
 * Atomically adds `quantity` to a line unless it would exceed `max`; refreshes the cart's TTL. With an
 * Idempotency-Key the key is recorded by the same script: a key applied before is 'replayed'.
 */
export async function addToLine(
  redis: Redis,
  userId: string,
  g: number,
  line: { skuId: string; quantity: number; max: number; ttl: number },
  idempotency?: Idempotency,
): Promise<CartWrite> {
  const record = recorded(userId, idempotency);
  return runScript(
    redis,
    CART_ADD,
    [keys.cart(userId), keys.cartOwner(userId), ...record.keys],
    [line.skuId, String(line.quantity), String(line.max), String(line.ttl), String(g), ...record.args],
  );
}

/** Atomically sets a line (0 removes it) if the lines still hash to `expected` ('' for any); refreshes the TTL. */
export async function setLine(
  redis: Redis,
  userId: string,
  g: number,
  line: { skuId: string; quantity: number; ttl: number; expected: string },
): Promise<CartWrite> {
  return runScript(
    redis,
    CART_SET,
    [keys.cart(userId), keys.cartOwner(userId)],
    [line.skuId, String(line.quantity), String(line.ttl), line.expected, String(g)],
  );
}

/**
 * Atomically decrements a line (never below zero; removed at zero), or removes it when `quantity` is
 * undefined; with an Idempotency-Key, recorded as `addToLine` does.
 */
export async function removeFromLine(
  redis: Redis,
  userId: string,
  g: number,
  line: { skuId: string; quantity: number | undefined; ttl: number; expected: string },
  idempotency?: Idempotency,
): Promise<CartWrite> {
  const record = recorded(userId, idempotency);
  return runScript(
    redis,
    CART_REMOVE,
    [keys.cart(userId), keys.cartOwner(userId), ...record.keys],
    [
      line.skuId,
      line.quantity === undefined ? '' : String(line.quantity),
      String(line.ttl),
      line.expected,
      String(g),
      ...record.args,
    ],
  );
}

/** Empties the cart of generation `g`. */
export async function clearLines(redis: Redis, userId: string, g: number): Promise<CartWrite> {
  return runScript(redis, CART_CLEAR, [keys.cart(userId), keys.cartOwner(userId)], [String(g)]);
}
