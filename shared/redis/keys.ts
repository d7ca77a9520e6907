import { getConfig } from '../config.js';
import { ID_PATTERN } from '../ids.js';

function checked(id: string): string {
  // Ids are validated at the edge; this second check keeps a bug elsewhere from building a foreign key.
  if (!ID_PATTERN.test(id))
    throw new Error(`refusing to build a key from an invalid id: ${JSON.stringify(id)}`);
  return id;
}

const prefix = () => getConfig().keyPrefix;
// `biglist` and every `{biglist}...` key share one hash slot, so publishing can RENAME into `biglist`
// and update the load's state in one script on a cluster. Segment keys carry their own hash tag so
// that large loads spread over all shards.
const listTag = () => `${prefix()}biglist`;

/** Every Redis key the app uses, built from validated ids; the only place key names are spelled. */
export const keys = {
  /** `user:{id}` Hash: first_name, last_name, email. */
  user: (id: string) => `${prefix()}user:${checked(id)}`,
  /** `{user:{id}}:generation` String, in the user's hash slot: which incarnation of the id this user is. */
  userGeneration: (id: string) => `{${prefix()}user:${checked(id)}}:generation`,
  /** `sku:{id}` Hash: name, price (decimal string). */
  sku: (id: string) => `${prefix()}sku:${checked(id)}`,
  /** The SKU id a `sku:{id}` key names (the inverse of `sku`), or undefined for any other key. */
  skuIdOf: (key: string) => {
    const head = `${prefix()}sku:`;
    return key.startsWith(head) ? key.slice(head.length) : undefined;
  },
  /** `skus` Sorted Set of every SKU id (score 0), for stable lexicographic paging. */
  skuIndex: () => `${prefix()}skus`,
  /** `cart:{userId}` Hash: SKU id -> quantity. */
  cart: (userId: string) => `${prefix()}cart:${checked(userId)}`,
  /**
   * `{cart:{userId}}:owner` Hash, in the cart's hash slot: `next` (last generation issued), `live` (the
   * generation the cart belongs to) and `closed` (the newest deleted one), so cart scripts can refuse
   * writes for a deleted user atomically, although `user:{id}` lives in another slot.
   */
  cartOwner: (userId: string) => `{${prefix()}cart:${checked(userId)}}:owner`,
  /** `biglist` List: the newest segment of the published load (the whole list for loads up to one segment). */
  biglist: () => listTag(),
  /** `{biglist}:current` String: JSON description of the published load. */
  biglistCurrent: () => `{${listTag()}}:current`,
  /** `{biglist}:active` String: id of the load in progress (one at a time). */
  biglistActive: () => `{${listTag()}}:active`,
  /** `{biglist}:cleanup` Set: ids of failed, cancelled or replaced loads whose data is still to be removed. */
  biglistCleanup: () => `{${listTag()}}:cleanup`,
  /** `{biglist}:load:{id}` Hash: a load's state and progress. */
  biglistLoad: (loadId: string) => `{${listTag()}}:load:${checked(loadId)}`,
  /** `{biglist}:load:{id}:attempts` Set: names of the load's attempt keys, for the clean-up of an ended load. */
  biglistAttempts: (loadId: string) => `{${listTag()}}:load:${checked(loadId)}:attempts`,
  /** `{biglist}:load:{id}:done` Set: indexes of the load's finished segments. */
  biglistDone: (loadId: string) => `{${listTag()}}:load:${checked(loadId)}:done`,
  /** `{biglist}:staged:{id}` List: the load's newest segment, renamed to `biglist` on publish. */
  biglistStaged: (loadId: string) => `{${listTag()}}:staged:${checked(loadId)}`,
  /** `biglist:{id:n}` List: an older segment of a load, in its own hash slot. */
  biglistSegment: (loadId: string, index: number) => `${listTag()}:{${checked(loadId)}:${index}}`,
  /** A delivery's private copy of a segment (token: message id and dequeue count), renamed into place when complete. */
  biglistAttempt: (finalKey: string, token: string) => `${finalKey}:attempt:${checked(token)}`,
  /**
   * `{cart:{userId}}:idem:{key}` String, in the cart's hash slot: the fingerprint of the cart write made
   * with this Idempotency-Key, written by the same script as the change (kept 24 hours).
   */
  cartIdempotency: (userId: string, key: string) =>
    `{${prefix()}cart:${checked(userId)}}:idem:${checked(key)}`,
  /** `{user:{id}}:idem:{key}` String, in the user's hash slot: the creation made with this Idempotency-Key. */
  userIdempotency: (id: string, key: string) => `{${prefix()}user:${checked(id)}}:idem:${checked(key)}`,
  /** `guestcart:{hash}` Hash: a guest's cart (SKU id -> quantity), named by the SHA-256 of its cart token. */
  guestCart: (hash: string) => `${prefix()}guestcart:${checked(hash)}`,
  /**
   * `{guestcart:{hash}}:owner` Hash, in the guest cart's slot: `live` 1 while the cart takes writes,
   * `closed` 1 and `into` (the shopper's id) once a merge froze it, `merged` 1 once it is done. It expires
   * with the cart: a guest cart lives only as long as this record.
   */
  guestCartOwner: (hash: string) => `{${prefix()}guestcart:${checked(hash)}}:owner`,
  /** `{guestcart:{hash}}:idem:{key}` String: a guest cart write's Idempotency-Key, as `cartIdempotency`. */
  guestCartIdempotency: (hash: string, key: string) =>
    `{${prefix()}guestcart:${checked(hash)}}:idem:${checked(key)}`,
  /**
   * `{cart:{userId}}:merged:{hash}` String, in the shopper's cart slot: this guest cart's lines were merged
   * here, written by the same script as the merge (so a retried or raced merge applies once).
   */
  cartMerge: (userId: string, hash: string) => `{${prefix()}cart:${checked(userId)}}:merged:${checked(hash)}`,
  /** `{biglist}:idem:{key}` String: the load started with this Idempotency-Key, written with the claim. */
  biglistIdempotency: (key: string) => `{${listTag()}}:idem:${checked(key)}`,
};
