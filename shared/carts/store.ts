import type { Idempotency } from '../idempotency.js';
import type { Redis } from '../redis/connect.js';
import { keys } from '../redis/keys.js';
import { runScript } from '../redis/scripts.js';
import { GUEST_FINISH, GUEST_FREEZE, GUEST_OPEN, type GuestFreeze, MERGE_APPLY } from './guestScripts.js';
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
  GUEST_CART_ADD,
  GUEST_CART_CLEAR,
  GUEST_CART_REMOVE,
  GUEST_CART_SET,
} from './scripts.js';

export type { GuestFreeze } from './guestScripts.js';
export type { CartWrite } from './scripts.js';
export { lineQuantity, linesHash } from './scripts.js';

// How long the owner record of a deleted user's cart stays, so that writes still in flight find it; also
// how long a generation reserved by a create that then failed is remembered.
const CLOSED_OWNER_TTL_S = 86_400;

/** Whose cart: a user's, by user id, or a guest's, by the hash of its cart token. */
export type Holder = { kind: 'user'; id: string } | { kind: 'guest'; id: string };

// A guest cart has one generation for its whole life: its owner record is opened with it.
const GUEST_GENERATION = 1;

// Which twin of each write script a holder's cart runs: a guest's checks first that the cart is live.
const WRITES = {
  user: { add: CART_ADD, set: CART_SET, remove: CART_REMOVE, clear: CART_CLEAR },
  guest: { add: GUEST_CART_ADD, set: GUEST_CART_SET, remove: GUEST_CART_REMOVE, clear: GUEST_CART_CLEAR },
};

// The keys of a holder's cart, all in one hash slot, and its write scripts.
function cartOf(holder: Holder) {
  const guest = holder.kind === 'guest';
  return guest
    ? {
        cart: keys.guestCart(holder.id),
        owner: keys.guestCartOwner(holder.id),
        record: (key: string) => keys.guestCartIdempotency(holder.id, key),
        writes: WRITES.guest,
      }
    : {
        cart: keys.cart(holder.id),
        owner: keys.cartOwner(holder.id),
        record: (key: string) => keys.cartIdempotency(holder.id, key),
        writes: WRITES.user,
      };
}

// The optional idempotency record of a write: its key (in the cart's slot) and the fingerprint it keeps.
function recorded(holder: Holder, idempotency: Idempotency | undefined): { keys: string[]; args: string[] } {
  return idempotency
    ? { keys: [cartOf(holder).record(idempotency.key)], args: [idempotency.fingerprint] }
    : { keys: [], args: [] };
}

/** What a cart read finds: no such user (or no live guest cart), or the lines the cart holds. */
export type CartRead = { user: 'absent' } | { user: 'present'; lines: Record<string, string> };

/**
 * Reads a cart in one round trip: for a user, with the user's existence and incarnation (a user whose
 * incarnation was deleted reads as absent; lines left by an older incarnation read as none); for a guest,
 * with its owner record (expired, or frozen by a merge: absent).
 */
export async function readCart(redis: Redis, holder: Holder): Promise<CartRead> {
  const { cart, owner } = cartOf(holder);
  if (holder.kind === 'guest') {
    const { lines, live, closed } = await runScript(redis, CART_READ, [cart, owner], []);
    return live === GUEST_GENERATION && closed === 0 ? { user: 'present', lines } : { user: 'absent' };
  }
  const [exists, generation, { lines, live, closed }] = await Promise.all([
    redis.exists(keys.user(holder.id)),
    redis.get(keys.userGeneration(holder.id)),
    runScript(redis, CART_READ, [cart, owner], []),
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

/** The generation a guest cart's writes act for (its scripts check that the cart is live). */
export const guestGeneration = () => GUEST_GENERATION;

/** Opens a guest cart named by `hash` that lives `ttl` seconds after its last write. */
export async function openGuestCart(redis: Redis, hash: string, ttl: number): Promise<boolean> {
  return (await runScript(redis, GUEST_OPEN, [keys.guestCartOwner(hash)], [String(ttl)])) === 1;
}

/** Merge step 1: freezes the guest cart for `userId` and reads its lines (see guestScripts.ts). */
export async function freezeGuestCart(
  redis: Redis,
  hash: string,
  userId: string,
  ttl: number,
): Promise<GuestFreeze> {
  return runScript(
    redis,
    GUEST_FREEZE,
    [keys.guestCart(hash), keys.guestCartOwner(hash)],
    [userId, String(ttl)],
  );
}

/** Merge step 2: adds the frozen lines to the shopper's cart unless this guest cart was merged there already. */
export async function applyMerge(
  redis: Redis,
  userId: string,
  g: number,
  merge: { hash: string; lines: Record<string, string>; max: number; ttl: number; keep: number },
): Promise<CartWrite> {
  return runScript(
    redis,
    MERGE_APPLY,
    [keys.cart(userId), keys.cartOwner(userId), keys.cartMerge(userId, merge.hash)],
    [
      String(g),
      String(merge.max),
      String(merge.ttl),
      String(merge.keep),
      ...Object.entries(merge.lines).flat(),
    ],
  );
}

/** Merge step 3: drops a frozen guest cart's lines, leaving its record as the tombstone for `ttl` seconds. */
export async function finishGuestCart(redis: Redis, hash: string, ttl: number): Promise<void> {
  await runScript(redis, GUEST_FINISH, [keys.guestCart(hash), keys.guestCartOwner(hash)], [String(ttl)]);
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
  holder: Holder,
  g: number,
  line: { skuId: string; quantity: number; max: number; ttl: number },
  idempotency?: Idempotency,
): Promise<CartWrite> {
  const { cart, owner, writes } = cartOf(holder);
  const record = recorded(holder, idempotency);
  return runScript(
    redis,
    writes.add,
    [cart, owner, ...record.keys],
    [line.skuId, String(line.quantity), String(line.max), String(line.ttl), String(g), ...record.args],
  );
}

/** Atomically sets a line (0 removes it) if the lines still hash to `expected` ('' for any); refreshes the TTL. */
export async function setLine(
  redis: Redis,
  holder: Holder,
  g: number,
  line: { skuId: string; quantity: number; ttl: number; expected: string },
): Promise<CartWrite> {
  const { cart, owner, writes } = cartOf(holder);
  return runScript(
    redis,
    writes.set,
    [cart, owner],
    [line.skuId, String(line.quantity), String(line.ttl), line.expected, String(g)],
  );
}

/**
 * Atomically decrements a line (never below zero; removed at zero), or removes it when `quantity` is
 * undefined; with an Idempotency-Key, recorded as `addToLine` does.
 */
export async function removeFromLine(
  redis: Redis,
  holder: Holder,
  g: number,
  line: { skuId: string; quantity: number | undefined; ttl: number; expected: string },
  idempotency?: Idempotency,
): Promise<CartWrite> {
  const { cart, owner, writes } = cartOf(holder);
  const record = recorded(holder, idempotency);
  return runScript(
    redis,
    writes.remove,
    [cart, owner, ...record.keys],
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
export async function clearLines(redis: Redis, holder: Holder, g: number): Promise<CartWrite> {
  const { cart, owner, writes } = cartOf(holder);
  return runScript(redis, writes.clear, [cart, owner], [String(g)]);
}
