// `sku:{id}` and the `skus` index live in different hash slots, so no script can change both. The index
// is kept by one rule instead: it is added to after every write of a SKU, and every removal from it is
// followed by a check of the SKU, which puts back the id of a SKU that exists. Whatever writes, deletes and
// listings race (on any number of app instances), an existing SKU ends up indexed; an index entry whose
// SKU is gone can stay for a while, and the listing that meets it removes it.
import { ID_PATTERN } from '../ids.js';
import { parsePrice } from '../money.js';
import type { Redis } from '../redis/connect.js';
import type { KeyMemo } from '../redis/keyMemo.js';
import { keys } from '../redis/keys.js';

/** A SKU as stored: `price` is the decimal string kept in the Hash. */
export interface StoredSku {
  name: string;
  price: string;
}

/** A SKU as read: as stored, and its price in cents (undefined when the stored text is not a price). */
export interface ReadSku extends StoredSku {
  cents: number | undefined;
}

/** Writes `sku:{id}`, then indexes it; true when it did not exist before. */
export async function saveSku(redis: Redis, id: string, sku: StoredSku): Promise<boolean> {
  // HSET reports how many fields are new: both on create, none on replace (the Hash only ever has these two).
  const added = await redis.hSet(keys.sku(id), { name: sku.name, price: sku.price });
  await redis.zAdd(keys.skuIndex(), { score: 0, value: id });
  return added > 0;
}

const read = ([name, price]: Array<string | null>): ReadSku | undefined =>
  name != null && price != null ? { name, price, cents: parsePrice(price) } : undefined;

/**
 * A SKU's fields as HMGET answers them. An id no SKU can have (a cart line written outside the API, say in
 * Redis Insight) names no SKU: it reads as missing, and no key is built from it.
 */
const fieldsOf = (redis: Redis, id: string): Promise<Array<string | null>> =>
  ID_PATTERN.test(id) ? redis.hmGet(keys.sku(id), ['name', 'price']) : Promise.resolve([null, null]);

/** Reads several SKUs in one pipelined round trip; missing ones are undefined. */
export async function findSkus(redis: Redis, ids: string[]): Promise<Array<ReadSku | undefined>> {
  const replies = await Promise.all(ids.map((id) => fieldsOf(redis, id)));
  return replies.map(read);
}

/**
 * findSkus through the SKU reader's memo: what it keeps is answered from it, the rest read in one
 * pipelined round trip on the reader's (tracking) connection and kept (see KeyMemo).
 */
export async function findSkusMemoized(
  redis: Redis,
  memo: KeyMemo<ReadSku | null>,
  ids: string[],
): Promise<Array<ReadSku | undefined>> {
  const readAt = memo.version();
  const now = Date.now();
  // null: kept as missing (a SKU that does not exist is invalidated like any other key read).
  const found = ids.map((id) => memo.get(id, now));
  const missing = ids.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    const replies = await Promise.all(missing.map((id) => fieldsOf(redis, id)));
    let j = 0;
    for (let i = 0; i < ids.length; i++) {
      if (found[i] !== undefined) continue;
      const sku = read(replies[j++] ?? [null, null]) ?? null;
      found[i] = sku;
      memo.set(ids[i] ?? '', sku, readAt, now);
    }
  }
  return found.map((sku) => sku ?? undefined);
}

/** Deletes `sku:{id}`, then its index entry (see unindex); false when it did not exist. */
export async function removeSku(redis: Redis, id: string): Promise<boolean> {
  const removed = await redis.del(keys.sku(id));
  await unindex(redis, [id]);
  return removed === 1;
}

/** Removes ids from the index, then puts back those whose SKU exists (written meanwhile by another request). */
async function unindex(redis: Redis, ids: string[]): Promise<void> {
  await redis.zRem(keys.skuIndex(), ids);
  const exists = await Promise.all(ids.map((id) => redis.exists(keys.sku(id))));
  const back = ids.filter((_, i) => exists[i] === 1);
  if (back.length > 0)
    await redis.zAdd(
      keys.skuIndex(),
      back.map((value) => ({ score: 0, value })),
    );
}

/** Up to `limit` SKU ids after `after` in byte order. */
export async function skuIdsAfter(redis: Redis, after: string | undefined, limit: number): Promise<string[]> {
  return redis.zRange(keys.skuIndex(), after === undefined ? '-' : `(${after}`, '+', {
    BY: 'LEX',
    LIMIT: { offset: 0, count: limit },
  });
}

/** Drops index entries whose Hash is gone (left by a delete that raced a write, or was interrupted). */
export async function pruneSkuIndex(redis: Redis, ids: string[]): Promise<void> {
  if (ids.length > 0) await unindex(redis, ids);
}
