import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';
import { CART_ADD, CART_REMOVE, CART_SET, runScript } from '../redis/scripts.js';

/** The outcome of an atomic cart script: the cart's lines after it ran, or why it did nothing. */
export type CartWrite =
  | { status: 'ok'; lines: Record<string, string> }
  | { status: 'limit'; current: number }
  | { status: 'precondition' }
  | { status: 'absent' };

function toRecord(flat: unknown): Record<string, string> {
  // RESP3 may hand the HGETALL table back as a map or as a flat list, depending on the path.
  if (!Array.isArray(flat))
    return Object.fromEntries(
      Object.entries(flat as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

function parseWrite(reply: unknown): CartWrite {
  const [status, payload] = reply as [string, unknown];
  switch (status) {
    case 'ok':
      return { status, lines: toRecord(payload) };
    case 'limit':
      return { status, current: Number(payload) };
    case 'precondition':
    case 'absent':
      return { status };
    default:
      throw new Error(`unexpected cart script reply ${JSON.stringify(reply)}`);
  }
}

/** Reads the cart's lines and whether the user exists, in one round trip. */
export async function readCart(
  redis: Redis,
  userId: string,
): Promise<{ userExists: boolean; lines: Record<string, string> }> {
  const [exists, lines] = await Promise.all([
    redis.exists(keys.user(userId)),
    redis.hGetAll(keys.cart(userId)),
  ]);
  return { userExists: exists === 1, lines };
}

/** Atomically adds `quantity` to a line unless it would exceed `max`; refreshes the cart's TTL. */
export async function addToLine(
  redis: Redis,
  userId: string,
  skuId: string,
  quantity: number,
  max: number,
  ttl: number,
): Promise<CartWrite> {
  return parseWrite(
    await runScript(
      redis,
      CART_ADD,
      [keys.cart(userId)],
      [skuId, String(quantity), String(max), String(ttl)],
    ),
  );
}

/** Atomically sets a line (0 removes it) if the cart still matches `ifMatch`; refreshes the TTL. */
export async function setLine(
  redis: Redis,
  userId: string,
  skuId: string,
  quantity: number,
  ttl: number,
  ifMatch: string,
): Promise<CartWrite> {
  return parseWrite(
    await runScript(redis, CART_SET, [keys.cart(userId)], [skuId, String(quantity), String(ttl), ifMatch]),
  );
}

/** Atomically decrements a line (never below zero; removed at zero) or removes it when `quantity` is undefined. */
export async function removeFromLine(
  redis: Redis,
  userId: string,
  skuId: string,
  quantity: number | undefined,
  ttl: number,
  ifMatch: string,
): Promise<CartWrite> {
  return parseWrite(
    await runScript(
      redis,
      CART_REMOVE,
      [keys.cart(userId)],
      [skuId, quantity === undefined ? '' : String(quantity), String(ttl), ifMatch],
    ),
  );
}

/** Deletes the whole cart. */
export async function deleteCart(redis: Redis, userId: string): Promise<void> {
  await redis.del(keys.cart(userId));
}
