// The client that cart pricing reads SKUs through: a connection of its own with client-side caching
// (RESP3 `CLIENT TRACKING`, default mode: Redis pushes an invalidation on this connection whenever a key it
// read changes; node-redis drops the whole cache when the connection is lost, and on a cluster when the
// topology is rediscovered). Bounded by SKU_CACHE_MAX_ENTRIES, each entry kept at most
// SKU_CACHE_TTL_SECONDS as a backstop. Only these reads use it: cart writes and everything else go through
// the shared client. Where Redis refuses tracking, SKUs are read without a cache, said once in the log.
import { ErrorReply, ReconnectStrategyError } from 'redis';

import { getConfig } from '../config.js';
import { isRedisUnavailable } from '../errors.js';
import type { ReadSku } from '../skus/store.js';
import { closeWithShared, getRedis, LazyClient } from './client.js';
import { connectRedis, pingAll, type Redis } from './connect.js';
import { KeyMemo, MemoizedCache, MemoizedPooledCache } from './keyMemo.js';
import { keys } from './keys.js';

/** A SKU as the memo keeps it: read and parsed once, or null for one that does not exist. */
type MemoSku = ReadSku | null;

/** A client to read SKUs with and, when it is the cache's, the memo its reads may come from. */
export interface SkuReader {
  redis: Redis;
  /** The SKUs already read through the cache's connection, by SKU id, until Redis invalidates them. */
  memo?: KeyMemo<MemoSku>;
}

// The cache's client and the memo its providers keep up to date, made together on first use.
let cache: { client: LazyClient; memo: KeyMemo<MemoSku> } | undefined;
// Why Redis refused tracking, once it did: from then on this worker reads without a cache.
let refusal: string | undefined;

function theCache(): { client: LazyClient; memo: KeyMemo<MemoSku> } {
  if (!cache) {
    const { maxEntries, ttlMs } = getConfig().skuCache;
    // Kept by SKU id: a cart's lines name SKUs by id, and a lookup then builds no key.
    const memo = new KeyMemo<MemoSku>(maxEntries, ttlMs, keys.skuIdOf);
    const config = { ttl: ttlMs, maxEntries, evictPolicy: 'LRU' as const, recordStats: true };
    const client = new LazyClient(() => {
      // Nothing kept from an earlier connection survives it.
      memo.drop(null);
      return connectRedis(getConfig().redis, {
        // A new provider per connection, each telling the memo what it forgets.
        clientSideCache: getConfig().redis.cluster
          ? new MemoizedPooledCache(config, memo)
          : new MemoizedCache(config, memo),
      });
    });
    closeWithShared(client);
    cache = { client, memo };
  }
  return cache;
}

/** The server's refusal (an error reply, e.g. CLIENT TRACKING not allowed) behind a failed connect, if that is what it was. */
function refusedBy(err: unknown): string | undefined {
  for (
    let e: unknown = err;
    e instanceof Error;
    e = e instanceof ReconnectStrategyError ? e.originalError : e.cause
  ) {
    if (e instanceof ErrorReply) return e.message;
  }
  return undefined;
}

// The PING being gathered for a client: every reader asked for before it is handed to node-redis shares it.
const gathering = new WeakMap<Redis, Promise<void>>();

/**
 * Resolves once a PING handed to node-redis after this call has been answered by every primary. Callers in
 * the same turn (until the next tick, after every promise continuation already queued) share one PING:
 * it is still sent after each of them started, which is all the freshness rule asks. A PING already handed
 * over is never shared: a write answered since may have been applied after it, its invalidation after its
 * reply (test/integration/skuCache.test.ts has that race).
 */
function synchronised(redis: Redis): Promise<void> {
  let ping = gathering.get(redis);
  if (!ping) {
    ping = new Promise<void>((resolve, reject) => {
      process.nextTick(() => {
        gathering.delete(redis);
        pingAll(redis).then(resolve, reject);
      });
    });
    gathering.set(redis, ping);
  }
  return ping;
}

/**
 * The client to read SKUs with, ready to answer from its cache. Before answering, a PING goes to every
 * primary the cached client is connected to: Redis sends an invalidation before it replies to the write that
 * caused it, and before any later reply on this connection, so once the PING is answered every SKU written
 * before this call started is out of the cache. One small round trip instead of one read per SKU, shared
 * by the readers asked for in the same turn.
 */
export async function skuReader(): Promise<SkuReader> {
  if (getConfig().skuCache.maxEntries === 0 || refusal !== undefined) {
    return { redis: await getRedis() };
  }
  try {
    const { client, memo } = theCache();
    const redis = await client.get();
    await synchronised(redis);
    return { redis, memo };
  } catch (err) {
    const reply = refusedBy(err);
    if (reply !== undefined) {
      refusal = reply;
      console.warn(`Redis refused client-side caching (${reply}): SKUs are read without a cache`);
    } else if (!isRedisUnavailable(err)) {
      throw err;
    }
    // The cache is a saving, not a dependency: while its connection is down (or reconnecting) SKUs are read
    // through the shared client, as without a cache.
    return { redis: await getRedis() };
  }
}

/** The SKU cache's hit ratio, entries and evictions so far (for benchmarks); undefined without a cache. */
export async function skuCacheStats(): Promise<
  { hitRate: number; hits: number; misses: number; entries: number; evictions: number } | undefined
> {
  if (!cache || refusal !== undefined) return undefined;
  const { client, memo } = cache;
  const provider = (await client.get()).clientSideCache;
  if (!provider) return undefined;
  // A read the memo does not answer goes to node-redis's cache, and to Redis when that misses too.
  const s = provider.stats();
  const hits = memo.hits + s.hitCount;
  return {
    hitRate: hits / Math.max(1, hits + s.missCount),
    hits,
    misses: s.missCount,
    entries: memo.size,
    evictions: s.evictionCount,
  };
}
