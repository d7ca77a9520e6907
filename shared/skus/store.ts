import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';

/** A SKU as stored: `price` is the decimal string kept in the Hash. */
export interface StoredSku {
  name: string;
  price: string;
}

/** Writes `sku:{id}` and indexes it; true when it did not exist before. */
export async function saveSku(redis: Redis, id: string, sku: StoredSku): Promise<boolean> {
  // HSET reports how many fields are new: both on create, none on replace (the Hash only ever has these two).
  const added = await redis.hSet(keys.sku(id), { name: sku.name, price: sku.price });
  await redis.zAdd(keys.skuIndex(), { score: 0, value: id });
  return added > 0;
}

/** Reads several SKUs in one pipelined round trip; missing ones are undefined. */
export async function findSkus(redis: Redis, ids: string[]): Promise<Array<StoredSku | undefined>> {
  const replies = await Promise.all(ids.map((id) => redis.hmGet(keys.sku(id), ['name', 'price'])));
  return replies.map(([name, price]) => (name != null && price != null ? { name, price } : undefined));
}

/** Deletes `sku:{id}` and its index entry; false when it did not exist. */
export async function removeSku(redis: Redis, id: string): Promise<boolean> {
  const removed = await redis.del(keys.sku(id));
  await redis.zRem(keys.skuIndex(), id);
  return removed === 1;
}

/** Up to `limit` SKU ids after `after` in byte order. */
export async function skuIdsAfter(redis: Redis, after: string | undefined, limit: number): Promise<string[]> {
  return redis.zRange(keys.skuIndex(), after === undefined ? '-' : `(${after}`, '+', {
    BY: 'LEX',
    LIMIT: { offset: 0, count: limit },
  });
}

/** Drops index entries whose Hash is gone (left by an interrupted delete). */
export async function pruneSkuIndex(redis: Redis, ids: string[]): Promise<void> {
  if (ids.length > 0) await redis.zRem(keys.skuIndex(), ids);
}
