// The SKU client-side cache that cart reads price from, against real Redis (standalone and a 3-shard
// cluster): a price written by any other client is seen by the next cart read, a deleted SKU is unavailable
// at once, a connection lost drops the cache (no invalidation can reach a connection that is gone), and a
// Redis that refuses CLIENT TRACKING is read without a cache. Each case fails on a cache that does not
// invalidate (a plain TTL cache, or one kept across a reconnection).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, afterEach, describe, expect, inject, it, vi } from 'vitest';

import { startFaultProxy } from '../support/faultProxy.js';
import { freshModules } from '../support/fresh.js';
import { admin } from '../support/redis.js';
import { freePort, type RedisProcess, startRedis } from '../support/servers.js';

const servers = inject('servers');

type Service = typeof import('../../shared/carts/service.js');
type Reader = typeof import('../../shared/redis/skuReader.js');

/** The cart service with fresh module state (config, clients, cache) for Redis at `port`. */
async function load(
  port: number,
  cluster: boolean,
): Promise<{ carts: Service; reader: Reader; close: () => Promise<void> }> {
  freshModules({
    REDIS_URL: `redis://127.0.0.1:${port}`,
    REDIS_CLUSTER: String(cluster),
    SKU_CACHE_MAX_ENTRIES: '10000',
    SKU_CACHE_TTL_SECONDS: '3600',
  });
  const carts = await import('../../shared/carts/service.js');
  const reader = await import('../../shared/redis/skuReader.js');
  const { closeRedis } = await import('../../shared/redis/client.js');
  return { carts, reader, close: closeRedis };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const lineOf = (
  cart: { items: Array<{ skuId: string; unitPrice: string | null; available: boolean | null }> },
  sku: string,
) => cart.items.find((l) => l.skuId === sku);

describe.each([
  ['standalone', [servers.standalone.port], false],
  ['cluster', servers.cluster.ports, true],
] as const)('the SKU cache (%s)', (_mode, ports, cluster) => {
  const onAll = (fn: (c: Parameters<Parameters<typeof admin>[1]>[0]) => Promise<unknown>) =>
    Promise.all(ports.map((p) => admin(p, fn)));
  // Writes as any other client of the database would: its own connection, to the node owning the key.
  const write = async (key: string, fields: Record<string, string>) => {
    for (const p of ports) {
      const done = await admin(p, async (c) => {
        try {
          await c.hSet(key, fields);
          return true;
        } catch {
          return false; // MOVED: another node owns the key
        }
      });
      if (done) return;
    }
    throw new Error(`no node took ${key}`);
  };
  const del = async (key: string) => {
    for (const p of ports) await admin(p, (c) => c.del(key).catch(() => 0));
  };

  async function arrange(): Promise<{ carts: Service; reader: Reader }> {
    await onAll((c) => c.flushAll());
    await write('user:u1', { first_name: 'A', last_name: 'B' });
    await write('cart:u1', { s1: '2', s2: '1', s3: '1' });
    for (const [id, price] of [
      ['s1', '10.00'],
      ['s2', '20.00'],
      ['s3', '30.00'],
    ] as const)
      await write(`sku:${id}`, { name: id, price });
    const loaded = await load(ports[0], cluster);
    close = loaded.close;
    return loaded;
  }

  it('prices every read with the price written last by another client, and serves the rest from the cache', async () => {
    const { carts, reader } = await arrange();
    const user = carts.userCart('u1');
    const first = await carts.getCart(user);
    expect(first.cart.total).toBe('70.00');
    let etag = first.etag;
    for (let i = 1; i <= 40; i++) {
      const price = `${10 + i}.00`;
      await write('sku:s1', { price });
      const read = await carts.getCart(user);
      expect([i, lineOf(read.cart, 's1')?.unitPrice]).toEqual([i, price]);
      // The ETag covers the priced body: a price change changes it.
      expect(read.etag).not.toBe(etag);
      etag = read.etag;
    }
    // s2 and s3 never changed: they came from the cache.
    const stats = await reader.skuCacheStats();
    expect(stats?.hits).toBeGreaterThanOrEqual(80);
    expect(stats?.entries).toBeGreaterThanOrEqual(3);
  });

  it('answers a SKU deleted by another client as unavailable on the next read', async () => {
    const { carts } = await arrange();
    const user = carts.userCart('u1');
    expect(lineOf((await carts.getCart(user)).cart, 's2')?.available).toBe(true);
    await del('sku:s2');
    const read = await carts.getCart(user);
    expect(lineOf(read.cart, 's2')).toMatchObject({ available: false, unitPrice: null });
    expect(read.cart.total).toBe('50.00');
  });

  it('drops the cache when its connection is lost: a price written meanwhile is read, not the cached one', async () => {
    const { carts, reader } = await arrange();
    const user = carts.userCart('u1');
    await carts.getCart(user);
    await carts.getCart(user);
    // Every connection but the admin's own is cut; Redis forgets their tracking, so the write below sends
    // no invalidation to anyone.
    await onAll((c) => c.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']));
    await write('sku:s3', { price: '33.00' });
    // Read until the cache's connection is back and answering from the cache again (while it reconnects,
    // SKUs are read through the shared client): every read shows the new price.
    const hitsBefore = (await reader.skuCacheStats())?.hits ?? 0;
    const seen: string[] = [];
    for (let i = 0; i < 200 && ((await reader.skuCacheStats())?.hits ?? 0) < hitsBefore + 40; i++) {
      const read = await carts.getCart(user).catch(() => undefined);
      if (read) seen.push(lineOf(read.cart, 's3')?.unitPrice ?? '');
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect((await reader.skuCacheStats())?.hits ?? 0).toBeGreaterThanOrEqual(hitsBefore + 40);
    expect(new Set(seen)).toEqual(new Set(['33.00']));
  });
});

describe('the SKU cache under slow replies (standalone)', () => {
  // One PING serves every reader asked for before it is handed to node-redis; one already on its way must
  // not serve a reader asked for later. The race, made wide with a proxy that delays every byte: reader 1's
  // PING reaches Redis, a price is written directly (its reply is back at once), reader 2 is asked for;
  // Redis sent the invalidation after reader 1's PONG, so only a PING of reader 2's own comes after it.
  // (A cart read would hide the race behind its own delayed cart script: the reader is called directly.)
  it('gives a reader asked for after a write its own PING, not one already on its way', async () => {
    const port = servers.standalone.port;
    await admin(port, async (c) => {
      await c.flushAll();
      await c.hSet('sku:s1', { name: 's1', price: '10.00' });
    });
    const proxy = await startFaultProxy(port);
    try {
      const { reader, close: closing } = await load(proxy.port, false);
      close = closing;
      const { findSkusMemoized } = await import('../../shared/skus/store.js');
      const priceNow = async () => {
        const { redis, memo } = await reader.skuReader();
        if (!memo) throw new Error('the cache is off');
        return (await findSkusMemoized(redis, memo, ['s1']))[0]?.price;
      };
      expect([await priceNow(), await priceNow()]).toEqual(['10.00', '10.00']);
      proxy.delay(400);
      const first = reader.skuReader();
      // Reader 1's PING is at Redis after 400 ms, its PONG back after 800 ms.
      await sleep(550);
      await admin(port, (c) => c.hSet('sku:s1', { price: '11.00' }));
      expect(await priceNow()).toBe('11.00');
      await first;
    } finally {
      proxy.pass();
      await close?.();
      close = undefined;
      await proxy.close();
    }
  });
});

describe('a Redis that refuses CLIENT TRACKING', () => {
  let redis: RedisProcess | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  it('is read without a cache, said once in the log', async () => {
    const port = await freePort();
    redis = await startRedis(port, join(servers.workDir, `no-tracking-${port}`));
    await admin(port, async (c) => {
      await c.sendCommand(['ACL', 'SETUSER', 'default', '-client|tracking']);
      await c.hSet('user:u1', { first_name: 'A', last_name: 'B' });
      await c.hSet('cart:u1', { s1: '1' });
      await c.hSet('sku:s1', { name: 's1', price: '5.00' });
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { carts, reader, close: closing } = await load(port, false);
    close = closing;
    for (let i = 0; i < 3; i++) expect((await carts.getCart(carts.userCart('u1'))).cart.total).toBe('5.00');
    await admin(port, (c) => c.hSet('sku:s1', { price: '6.00' }));
    expect((await carts.getCart(carts.userCart('u1'))).cart.total).toBe('6.00');
    const said = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('client-side caching'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^Redis refused client-side caching \(.*NOPERM.*\): SKUs are read without a cache$/,
    );
    expect(await reader.skuCacheStats()).toBeUndefined();
    warn.mockRestore();
  });
});
