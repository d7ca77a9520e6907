// Guest carts and their merge into a shopper's cart at sign-in. A guest holds a cart token (256 random
// bits); Redis holds only its SHA-256, so neither a key listing nor a dump of the data gives a token back.
import { createHash, randomBytes } from 'node:crypto';

import { getConfig } from '../config.js';
import { errors, isRedisUnavailable } from '../errors.js';
import { getRedis } from '../redis/client.js';
import {
  answerApplied,
  generationOf,
  getCart,
  type Holder,
  settle,
  untilDeadline,
  userCart,
  type VersionedCart,
} from './service.js';
import { applyMerge, finishGuestCart, freezeGuestCart, openGuestCart } from './store.js';

// How much longer than a merged guest cart's tombstone the shopper's merge record is kept, so that no
// retry can find the tombstone without the record.
const MERGE_RECORD_MARGIN_S = 86_400;

/** The hash a guest cart is stored under (base64url SHA-256 of its token: an id like any other). */
const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** The guest cart a (validated) cart token stands for. */
export const guestCart = (token: string): Holder => ({ kind: 'guest', id: hashOf(token) });

/** Creates an empty guest cart; its token is returned here only. */
export async function createGuestCart(): Promise<{ cartToken: string; cart: VersionedCart }> {
  const redis = await getRedis();
  const cartToken = randomBytes(32).toString('base64url');
  const holder = guestCart(cartToken);
  // 256 random bits do not collide; a false here is a bug, not bad luck.
  if (!(await openGuestCart(redis, holder.id, getConfig().guestCartTtlSeconds)))
    throw new Error('a new guest cart token named an existing cart');
  return { cartToken, cart: await getCart(holder) };
}

/**
 * Merges the guest cart of `token` into the shopper's cart, exactly once (three steps, each atomic in its
 * slot and safe to repeat; see guestScripts.ts): a line's quantities are summed, capped at the per-line
 * maximum. A token merged into this shopper's cart before answers the cart as it is; one never issued,
 * expired, or merged into another shopper's cart is 404.
 */
export async function mergeGuestCart(userId: string, token: string): Promise<VersionedCart> {
  const redis = await getRedis();
  const hash = hashOf(token);
  const holder = userCart(userId);
  const { maxLineQuantity: max, cartTtlSeconds: ttl, guestCartTtlSeconds: guestTtl } = getConfig();
  const g = await generationOf(redis, holder);
  const frozen = await freezeGuestCart(redis, hash, userId, guestTtl);
  if (frozen.status !== 'frozen') throw errors.guestCartNotFound();
  // From here every step may be repeated: retried within the deadline, so that a lost reply is
  // not answered as a failure when it need not be (a 503 is still safe: the retry merges once).
  const write = await untilDeadline(() =>
    applyMerge(redis, userId, g, {
      hash,
      lines: frozen.lines,
      max,
      ttl,
      keep: guestTtl + MERGE_RECORD_MARGIN_S,
    }),
  );
  const { lines } = settle(write, holder, '');
  try {
    await untilDeadline(() => finishGuestCart(redis, hash, guestTtl));
  } catch (err) {
    // The merge is applied: a guest cart left frozen takes no writes and expires; a retry finishes it.
    if (!isRedisUnavailable(err)) throw err;
  }
  return answerApplied(holder, lines);
}
