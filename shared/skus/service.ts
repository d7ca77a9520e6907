import { z } from 'zod';

import { decodeCursor, encodeCursor } from '../cursor.js';
import { errors } from '../errors.js';
import { Id } from '../ids.js';
import { formatCents } from '../money.js';
import { getRedis } from '../redis/client.js';
import type { PutSkuInput, Sku, SkuPage } from './schema.js';
import { findSkus, pruneSkuIndex, removeSku, saveSku, skuIdsAfter } from './store.js';

/** Creates or replaces a SKU; `created` tells which. */
export async function putSku(id: string, input: PutSkuInput): Promise<{ sku: Sku; created: boolean }> {
  const price = formatCents(input.price);
  const created = await saveSku(await getRedis(), id, { name: input.name, price });
  return { sku: { id, name: input.name, price }, created };
}

/** Reads a SKU; 404 when absent. */
export async function getSku(id: string): Promise<Sku> {
  const [found] = await findSkus(await getRedis(), [id]);
  if (!found) throw errors.skuNotFound(id);
  return { id, name: found.name, price: found.price };
}

/** Deletes a SKU; 404 when absent. Cart lines that name it then read as unavailable. */
export async function deleteSku(id: string): Promise<void> {
  if (!(await removeSku(await getRedis(), id))) throw errors.skuNotFound(id);
}

const AfterCursor = z.strictObject({ after: Id });

/** A page of SKUs in id order; the cursor is the last id returned, so pages stay stable under writes. */
export async function listSkus(limit: number, cursor?: string): Promise<SkuPage> {
  const redis = await getRedis();
  const after = cursor === undefined ? undefined : decodeCursor(cursor, AfterCursor)?.after;
  if (cursor !== undefined && after === undefined) throw errors.invalidCursor();
  const ids = await skuIdsAfter(redis, after, limit + 1);
  const pageIds = ids.slice(0, limit);
  const found = await findSkus(redis, pageIds);
  const items: Sku[] = [];
  const stale: string[] = [];
  pageIds.forEach((id, i) => {
    const s = found[i];
    if (s && s.cents !== undefined) items.push({ id, name: s.name, price: s.price });
    else if (!s) stale.push(id);
  });
  await pruneSkuIndex(redis, stale);
  const last = pageIds.at(-1);
  return { items, nextCursor: ids.length > limit && last ? encodeCursor({ after: last }) : null };
}
