// End-to-end tests of the cart API over HTTP through the local runner, against real Redis.
// Run once per Redis mode (standalone, cluster) from two test files, each in its own process.

import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { call as httpCall } from '../support/http.js';
import { admin } from '../support/redis.js';

/** Defines the API suite against Redis in the given mode. */
export function apiSuite(mode: 'standalone' | 'cluster'): void {
  const servers = inject('servers');
  const ports = mode === 'cluster' ? servers.cluster.ports : [servers.standalone.port];
  let runner: Runner;

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpCall(runner.url, method, path, body, headers);

  /** Every key and value in Redis, across all primaries, as the test's own client sees them. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const port of ports) {
      await admin(port, async (c) => {
        for (const key of await c.keys('*')) {
          const type = await c.type(key);
          out[key] =
            type === 'hash'
              ? await c.hGetAll(key)
              : type === 'zset'
                ? await c.zRange(key, 0, -1)
                : type === 'string'
                  ? await c.get(key)
                  : type;
        }
      });
    }
    return out;
  }

  async function hash(key: string): Promise<Record<string, string>> {
    const all = await snapshot();
    return (all[key] ?? {}) as Record<string, string>;
  }

  /** Sends one raw command to whichever node holds `key` (the reply unparsed: a flat list for a Hash). */
  async function raw(key: string, args: string[]): Promise<unknown> {
    const url = `redis://127.0.0.1:${ports[0]}`;
    if (mode === 'standalone') {
      const c = await createClient({ url, RESP: 2 }).connect();
      try {
        return await c.sendCommand(args);
      } finally {
        c.destroy();
      }
    }
    const c = await createCluster({ rootNodes: [{ url }], RESP: 2 }).connect();
    try {
      return await c.sendCommand(key, false, args);
    } finally {
      c.destroy();
    }
  }

  /** A Hash's fields as sorted [field, value] pairs, read raw (so a field named `__proto__` is kept). */
  async function fieldsOf(key: string): Promise<string[][]> {
    const flat = (await raw(key, ['HGETALL', key])) as string[];
    const pairs: string[][] = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([String(flat[i]), String(flat[i + 1])]);
    return pairs.sort();
  }

  beforeAll(async () => {
    runner = await startApp(servers, { redis: mode === 'cluster' ? 'cluster' : undefined });
  });

  // Every test starts from an empty database and arranges what it needs.
  beforeEach(async () => {
    for (const port of ports) await admin(port, (c) => c.flushAll());
  });

  /** The classic demo's data several tests build on: user 1 (Parker Perry), sku123 and sku456. */
  async function seed(): Promise<void> {
    await call('POST', '/users', { id: '1', firstName: 'Parker', lastName: 'Perry' });
    await call('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' });
    await call('PUT', '/skus/sku456', { name: 'Magic Mouse', price: '49.50' });
  }

  afterAll(async () => {
    await runner.stop();
  });

  describe(`cart API over HTTP (${mode} Redis)`, () => {
    it('plays the classic walkthrough with exact totals, and Redis holds the demo data model', async () => {
      const user = await call('POST', '/users', { id: '1', firstName: 'Parker', lastName: 'Perry' });
      expect(user.status).toBe(201);
      expect(user.headers.get('location')).toBe('/api/users/1');
      expect((await call('PUT', '/skus/sku123', { name: 'AirPods', price: '199.99' })).status).toBe(201);
      expect((await call('PUT', '/skus/sku456', { name: 'Magic Mouse', price: 49.5 })).status).toBe(201);
      expect((await call('POST', '/carts/1/items', { skuId: 'sku123', quantity: 2 })).status).toBe(200);
      const cart = await call('POST', '/carts/1/items', { skuId: 'sku456' });
      expect(cart.body).toEqual({
        userId: '1',
        items: [
          {
            skuId: 'sku123',
            name: 'AirPods',
            unitPrice: '199.99',
            quantity: 2,
            lineTotal: '399.98',
            available: true,
          },
          {
            skuId: 'sku456',
            name: 'Magic Mouse',
            unitPrice: '49.50',
            quantity: 1,
            lineTotal: '49.50',
            available: true,
          },
        ],
        totalQuantity: 3,
        total: '449.48',
      });
      expect(await hash('user:1')).toEqual({ first_name: 'Parker', last_name: 'Perry' });
      expect(await hash('sku:sku123')).toEqual({ name: 'AirPods', price: '199.99' });
      expect(await hash('cart:1')).toEqual({ sku123: '2', sku456: '1' });
      let ttl = -2;
      // On a cluster only the owning primary answers; the others reply MOVED.
      for (const p of ports) ttl = Math.max(ttl, await admin(p, (c) => c.ttl('cart:1')).catch(() => -2));
      expect(ttl).toBeGreaterThan(29 * 86_400);

      const removed = await call('DELETE', '/carts/1/items/sku456');
      expect(removed.status).toBe(200);
      expect(removed.body).toMatchObject({ totalQuantity: 2, total: '399.98' });
      const read = await call('GET', '/carts/1');
      expect(read.body).toMatchObject({ total: '399.98', items: [{ skuId: 'sku123', quantity: 2 }] });
      expect(read.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
    });

    it('keeps one line exactly right under hundreds of concurrent adds and decrements', async () => {
      await seed();
      await call('POST', '/users', { id: 'conc', firstName: 'C', lastName: 'C' });
      await call('PUT', '/carts/conc/items/sku123', { quantity: 400 });
      const ops = Array.from({ length: 600 }, (_, i) =>
        i % 2 === 0
          ? call('POST', '/carts/conc/items', { skuId: 'sku123', quantity: 1 })
          : call('DELETE', '/carts/conc/items/sku123?quantity=1'),
      );
      const results = await Promise.all(ops);
      expect(results.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      for (const r of results) expect(r.body.items[0].quantity).toBeGreaterThan(0);
      expect(await hash('cart:conc')).toEqual({ sku123: '400' });
    });

    it('never goes below zero when concurrent decrements outnumber the quantity', async () => {
      await seed();
      await call('POST', '/users', { id: 'drain', firstName: 'D', lastName: 'D' });
      await call('PUT', '/carts/drain/items/sku123', { quantity: 30 });
      const results = await Promise.all(
        Array.from({ length: 50 }, () => call('DELETE', '/carts/drain/items/sku123?quantity=1')),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(30);
      expect(
        results.filter((r) => r.status === 404).every((r) => r.body.code === 'cart_line_not_found'),
      ).toBe(true);
      expect(await hash('cart:drain')).toEqual({});
    });

    it('answers 412 to every decrement with a stale If-Match, even when racing: the tag is compared before anything else', async () => {
      await seed();
      await call('POST', '/users', { id: 'stale', firstName: 'S', lastName: 'T' });
      const added = await call('POST', '/carts/stale/items', { skuId: 'sku123', quantity: 1 });
      const h = { 'If-Match': added.headers.get('etag') ?? '' };
      const results = await Promise.all(
        Array.from({ length: 4 }, () => call('DELETE', '/carts/stale/items/sku123?quantity=1', undefined, h)),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
      // Sequentially the same: the line is gone, and the stale tag is still 412, not 404.
      const again = await call('DELETE', '/carts/stale/items/sku123?quantity=1', undefined, h);
      expect([again.status, again.body.code]).toEqual([412, 'precondition_failed']);
    });

    it('reads lines written by hand that are not whole numbers from 1, or that name no possible SKU id, as unavailable, never a 500 or a negative total', async () => {
      await seed();
      await call('POST', '/users', { id: 'hand', firstName: 'H', lastName: 'W' });
      await call('PUT', '/skus/skuA', { name: 'A', price: '1.00' });
      await call('PUT', '/skus/skuB', { name: 'B', price: '2.00' });
      await call('POST', '/carts/hand/items', { skuId: 'sku456', quantity: 2 });
      await raw('cart:hand', [
        'HSET',
        'cart:hand',
        'sku123',
        'abc',
        'skuA',
        '-2',
        'skuB',
        '1.5',
        'a b:{c}',
        '1',
      ]);
      const read = await call('GET', '/carts/hand');
      expect(read.status).toBe(200);
      expect(read.body.total).toBe('99.00');
      expect(read.body.totalQuantity).toBe(2);
      const bad = (read.body.items as Array<{ skuId: string; quantity: number; available: boolean }>)
        .filter((l) => l.skuId !== 'sku456')
        .map((l) => [l.skuId, l.quantity, l.available]);
      expect(bad).toEqual([
        ['a b:{c}', 1, false],
        ['sku123', 0, false],
        ['skuA', 0, false],
        ['skuB', 0, false],
      ]);
      // Writes still work, If-Match included: an add replaces an unreadable line, a removal drops one.
      const etag = read.headers.get('etag') ?? '';
      const add = await call('POST', '/carts/hand/items', { skuId: 'sku123', quantity: 1 });
      expect([add.status, add.body.total]).toEqual([200, '298.99']);
      const h = { 'If-Match': add.headers.get('etag') ?? '' };
      expect((await call('DELETE', '/carts/hand/items/skuA', undefined, h)).status).toBe(200);
      expect(
        (await call('DELETE', '/carts/hand/items/skuB?quantity=1', undefined, { 'If-Match': etag })).status,
      ).toBe(412);
      expect(await fieldsOf('cart:hand')).toEqual([
        ['a b:{c}', '1'],
        ['sku123', '1'],
        ['sku456', '2'],
        ['skuB', '1.5'],
      ]);
    });

    it.each(['__proto__', 'constructor', 'prototype'])(
      'treats the id %s like any other on every route',
      async (id) => {
        expect((await call('PUT', `/skus/${id}`, { name: 'Odd', price: '2.50' })).status).toBe(201);
        expect((await call('GET', `/skus/${id}`)).body).toEqual({ id, name: 'Odd', price: '2.50' });
        expect((await call('GET', '/skus?limit=10')).body.items).toEqual([
          { id, name: 'Odd', price: '2.50' },
        ]);
        expect((await call('POST', '/users', { id, firstName: 'O', lastName: 'D' })).status).toBe(201);
        expect((await call('PATCH', `/users/${id}`, { email: 'o@example.com' })).body.email).toBe(
          'o@example.com',
        );
        const h = { 'Idempotency-Key': id };
        const add = await call('POST', `/carts/${id}/items`, { skuId: id, quantity: 2 }, h);
        const line = {
          skuId: id,
          name: 'Odd',
          unitPrice: '2.50',
          quantity: 2,
          lineTotal: '5.00',
          available: true,
        };
        expect([add.status, add.body.items, add.body.total]).toEqual([200, [line], '5.00']);
        const replay = await call('POST', `/carts/${id}/items`, { skuId: id, quantity: 2 }, h);
        expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body.total]).toEqual([
          200,
          'true',
          '5.00',
        ]);
        const read = await call('GET', `/carts/${id}`);
        expect([read.body.items, read.headers.get('etag')]).toEqual([[line], add.headers.get('etag')]);
        const set = await call(
          'PUT',
          `/carts/${id}/items/${id}`,
          { quantity: 3 },
          { 'If-Match': read.headers.get('etag') ?? '' },
        );
        expect([set.status, set.body.total]).toEqual([200, '7.50']);
        const dec = await call('DELETE', `/carts/${id}/items/${id}?quantity=1`, undefined, {
          'If-Match': set.headers.get('etag') ?? '',
        });
        expect([dec.status, dec.body.total]).toEqual([200, '5.00']);
        expect(await fieldsOf(`cart:${id}`)).toEqual([[id, '2']]);
        expect((await call('DELETE', `/carts/${id}`)).status).toBe(204);
        expect((await call('DELETE', `/skus/${id}`)).status).toBe(204);
        expect((await call('DELETE', `/users/${id}`)).status).toBe(204);
        expect((await call('GET', `/users/${id}`)).status).toBe(404);
      },
    );

    it('caps a line at the maximum quantity', async () => {
      await seed();
      await call('POST', '/users', { id: 'cap', firstName: 'C', lastName: 'C' });
      await call('POST', '/carts/cap/items', { skuId: 'sku123', quantity: 998 });
      const res = await call('POST', '/carts/cap/items', { skuId: 'sku123', quantity: 2 });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('quantity_limit_exceeded');
      expect(await hash('cart:cap')).toEqual({ sku123: '998' });
    });

    it('reports a line whose SKU was deleted as unavailable and leaves it out of the totals', async () => {
      await seed();
      await call('POST', '/users', { id: 'gone', firstName: 'G', lastName: 'G' });
      await call('PUT', '/skus/temp', { name: 'Temp', price: '10.00' });
      await call('POST', '/carts/gone/items', { skuId: 'temp', quantity: 3 });
      await call('POST', '/carts/gone/items', { skuId: 'sku123', quantity: 1 });
      expect((await call('DELETE', '/skus/temp')).status).toBe(204);
      const cart = await call('GET', '/carts/gone');
      expect(cart.status).toBe(200);
      expect(cart.body).toMatchObject({ totalQuantity: 1, total: '199.99' });
      expect(cart.body.items).toContainEqual({
        skuId: 'temp',
        name: null,
        unitPrice: null,
        quantity: 3,
        lineTotal: null,
        available: false,
      });
    });

    it('replays an idempotent add instead of applying it twice, and refuses the key with another body', async () => {
      await seed();
      await call('POST', '/users', { id: 'idem', firstName: 'I', lastName: 'I' });
      const h = { 'Idempotency-Key': 'add-0001' };
      const first = await call('POST', '/carts/idem/items', { skuId: 'sku123', quantity: 2 }, h);
      const again = await call('POST', '/carts/idem/items', { skuId: 'sku123', quantity: 2 }, h);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(await hash('cart:idem')).toEqual({ sku123: '2' });
      const other = await call('POST', '/carts/idem/items', { skuId: 'sku123', quantity: 3 }, h);
      expect(other.status).toBe(422);
      expect(other.body.code).toBe('idempotency_key_reused');
      expect(await hash('cart:idem')).toEqual({ sku123: '2' });

      const u1 = await call(
        'POST',
        '/users',
        { firstName: 'New', lastName: 'User' },
        { 'Idempotency-Key': 'user-0001' },
      );
      const u2 = await call(
        'POST',
        '/users',
        { firstName: 'New', lastName: 'User' },
        { 'Idempotency-Key': 'user-0001' },
      );
      expect(u1.status).toBe(201);
      expect(u2.status).toBe(201);
      expect(u2.body.id).toBe(u1.body.id);
      expect(u2.headers.get('location')).toBe(`/api/users/${u1.body.id as string}`);
    });

    it('honours If-Match on cart lines: 412 on a stale ETag, success on the current one', async () => {
      await call('POST', '/users', { id: 'etag', firstName: 'E', lastName: 'E' });
      await call('PUT', '/skus/B', { name: 'Upper', price: '1.00' });
      await call('PUT', '/skus/a', { name: 'lower', price: '2.00' });
      await call('POST', '/carts/etag/items', { skuId: 'B' });
      const current = await call('POST', '/carts/etag/items', { skuId: 'a' });
      const stale = '"0000000000000000000000000000000000000000"';
      const refused = await call('PUT', '/carts/etag/items/a', { quantity: 5 }, { 'If-Match': stale });
      expect(refused.status).toBe(412);
      expect(refused.body.code).toBe('precondition_failed');
      expect((await call('DELETE', '/carts/etag/items/a', undefined, { 'If-Match': stale })).status).toBe(
        412,
      );
      expect(await hash('cart:etag')).toEqual({ B: '1', a: '1' });
      // The server-side (Lua) tag must equal the one computed in TypeScript, whatever the key order.
      const ok = await call(
        'PUT',
        '/carts/etag/items/a',
        { quantity: 5 },
        { 'If-Match': current.headers.get('etag') ?? '' },
      );
      expect(ok.status).toBe(200);
      expect(await hash('cart:etag')).toEqual({ B: '1', a: '5' });
    });

    it('applies If-Match as RFC 9110 says: strong comparison, 412 for any tag that is not current, 400 only when malformed', async () => {
      await seed();
      await call('POST', '/users', { id: 'rfc', firstName: 'R', lastName: 'F' });
      const current = await call('POST', '/carts/rfc/items', { skuId: 'sku123' });
      const tag = current.headers.get('etag') ?? '';
      expect(tag).toMatch(/^"[0-9a-f]{40}"$/);
      for (const header of ['"not-issued-x9"', `W/${tag}`, `W/${tag}, "other"`, '"a,b"', '""']) {
        const res = await call('PUT', '/carts/rfc/items/sku123', { quantity: 7 }, { 'If-Match': header });
        expect([header, res.status, res.body.code]).toEqual([header, 412, 'precondition_failed']);
      }
      for (const header of ['not-quoted', '"unterminated', '"a" "b"', ',', 'W/ "a"', '"a"x']) {
        const res = await call('PUT', '/carts/rfc/items/sku123', { quantity: 7 }, { 'If-Match': header });
        expect([header, res.status, res.body.code]).toEqual([header, 400, 'validation_failed']);
      }
      expect(await hash('cart:rfc')).toEqual({ sku123: '1' });
      const listed = await call(
        'PUT',
        '/carts/rfc/items/sku123',
        { quantity: 2 },
        { 'If-Match': `"elsewhere", W/"weak",${tag} ,` },
      );
      expect(listed.status).toBe(200);
      const any = await call('DELETE', '/carts/rfc/items/sku123?quantity=1', undefined, { 'If-Match': '*' });
      expect(any.status).toBe(200);
      expect(await hash('cart:rfc')).toEqual({ sku123: '1' });
    });

    it('changes the ETag when a price changes, since the body does, and refuses a change based on the old price', async () => {
      await call('POST', '/users', { id: 'price', firstName: 'P', lastName: 'R' });
      await call('PUT', '/skus/pr1', { name: 'Priced', price: '10.00' });
      const before = await call('POST', '/carts/price/items', { skuId: 'pr1' });
      expect((await call('GET', '/carts/price')).headers.get('etag')).toBe(before.headers.get('etag'));
      await call('PUT', '/skus/pr1', { name: 'Priced', price: '12.00' });
      const after = await call('GET', '/carts/price');
      expect(after.body.total).toBe('12.00');
      expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
      const stale = await call(
        'PUT',
        '/carts/price/items/pr1',
        { quantity: 3 },
        { 'If-Match': before.headers.get('etag') ?? '' },
      );
      expect(stale.status).toBe(412);
      const fresh = await call(
        'PUT',
        '/carts/price/items/pr1',
        { quantity: 3 },
        { 'If-Match': after.headers.get('etag') ?? '' },
      );
      expect(fresh.status).toBe(200);
      expect(fresh.body.total).toBe('36.00');
    });

    it('makes a delete final: adds racing it never leave a cart behind, later adds get 404, a re-created user starts empty', async () => {
      await call('PUT', '/skus/race', { name: 'Race', price: '1.00' });
      let survivors = 0;
      let lateSuccesses = 0;
      for (let round = 0; round < 40; round++) {
        const id = `race-${round}`;
        expect((await call('POST', '/users', { id, firstName: 'R', lastName: `${round}` })).status).toBe(201);
        const adds = Array.from({ length: 8 }, (_, i) =>
          new Promise((r) => setTimeout(r, i)).then(() =>
            call('POST', `/carts/${id}/items`, { skuId: 'race' }),
          ),
        );
        await new Promise((r) => setTimeout(r, round % 5));
        const deleted = await call('DELETE', `/users/${id}`);
        expect(deleted.status).toBe(204);
        // Requests sent after the 204: none may succeed.
        const after = await Promise.all(
          Array.from({ length: 4 }, () => call('POST', `/carts/${id}/items`, { skuId: 'race' })),
        );
        lateSuccesses += after.filter((r) => r.status !== 404).length;
        for (const r of await Promise.all(adds)) expect([200, 404]).toContain(r.status);
        const all = await snapshot();
        if (all[`cart:${id}`] !== undefined) survivors++;
        expect((await call('GET', `/carts/${id}`)).status).toBe(404);
        // Created again: an empty cart, whatever the old one's writes did.
        expect((await call('POST', '/users', { id, firstName: 'R', lastName: 'again' })).status).toBe(201);
        const fresh = await call('GET', `/carts/${id}`);
        expect([id, fresh.body.items]).toEqual([id, []]);
      }
      expect({ survivors, lateSuccesses }).toEqual({ survivors: 0, lateSuccesses: 0 });
    });

    it('serves a user created outside the API (as in the classic demo), and deletes it for good', async () => {
      await seed();
      for (const port of ports) {
        await admin(port, async (c) => {
          await c.hSet('user:legacy', { first_name: 'Old', last_name: 'Timer' }).catch(() => undefined);
          await c.hSet('cart:legacy', { sku123: '2' }).catch(() => undefined);
        });
      }
      const cart = await call('GET', '/carts/legacy');
      expect(cart.status).toBe(200);
      expect(cart.body.items).toEqual([expect.objectContaining({ skuId: 'sku123', quantity: 2 })]);
      expect((await call('POST', '/carts/legacy/items', { skuId: 'sku123' })).body.totalQuantity).toBe(3);
      expect((await call('DELETE', '/users/legacy')).status).toBe(204);
      expect((await call('POST', '/carts/legacy/items', { skuId: 'sku123' })).status).toBe(404);
      const all = await snapshot();
      expect(all['cart:legacy']).toBeUndefined();
      expect(all['user:legacy']).toBeUndefined();
    });

    it('reads a JSON number price by its value (1e3 is 1000.00) and refuses more than two decimals', async () => {
      const thousand = await call('PUT', '/skus/exp', '{"name":"Exp","price":1e3}');
      expect([thousand.status, thousand.body.price]).toEqual([201, '1000.00']);
      for (const body of [
        '{"name":"Exp","price":1e-7}',
        '{"name":"Exp","price":19.999}',
        '{"name":"Exp","price":"1e3"}',
      ]) {
        const res = await call('PUT', '/skus/exp', body);
        expect([body, res.status, res.body.code]).toEqual([body, 400, 'validation_failed']);
      }
      expect(await hash('sku:exp')).toEqual({ name: 'Exp', price: '1000.00' });
    });

    it('manages users: read, partial update, email removal, delete with cart', async () => {
      await seed();
      await call('POST', '/users', { id: 'u2', firstName: 'Ann', lastName: 'Lee', email: 'ann@example.com' });
      expect((await call('POST', '/users', { id: 'u2', firstName: 'X', lastName: 'Y' })).status).toBe(409);
      expect((await call('PATCH', '/users/u2', { lastName: 'Smith' })).body).toEqual({
        id: 'u2',
        firstName: 'Ann',
        lastName: 'Smith',
        email: 'ann@example.com',
      });
      expect((await call('PATCH', '/users/u2', { email: null })).body).toEqual({
        id: 'u2',
        firstName: 'Ann',
        lastName: 'Smith',
      });
      expect((await call('PATCH', '/users/nobody', { lastName: 'Z' })).status).toBe(404);
      await call('POST', '/carts/u2/items', { skuId: 'sku123' });
      expect((await call('DELETE', '/users/u2')).status).toBe(204);
      expect((await call('GET', '/users/u2')).status).toBe(404);
      expect((await call('GET', '/carts/u2')).status).toBe(404);
      const all = await snapshot();
      expect(all['user:u2']).toBeUndefined();
      expect(all['cart:u2']).toBeUndefined();
    });

    it('pages through SKUs with a stable cursor', async () => {
      for (let i = 0; i < 7; i++) await call('PUT', `/skus/page-${i}`, { name: `P${i}`, price: `${i}.00` });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const page = await call('GET', `/skus?limit=3${q}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...(page.body.items as Array<{ id: string }>).map((s) => s.id));
        cursor = page.body.nextCursor as string | null;
      } while (cursor);
      expect(seen.filter((id) => id.startsWith('page-'))).toEqual(
        Array.from({ length: 7 }, (_, i) => `page-${i}`),
      );
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('answers every kind of bad input with the right 4xx problem and writes nothing', async () => {
      await seed();
      const before = await snapshot();
      const big = JSON.stringify({ firstName: 'x'.repeat(20_000), lastName: 'y' });
      const cases: Array<[string, string, unknown, Record<string, string>, number, string]> = [
        ['POST', '/users', '{"firstName":', {}, 400, 'invalid_json'],
        ['POST', '/users', '', {}, 400, 'body_required'],
        ['POST', '/users', { firstName: 'a', lastName: 'b', admin: true }, {}, 400, 'validation_failed'],
        ['POST', '/users', { firstName: 'a' }, {}, 400, 'validation_failed'],
        ['POST', '/users', { id: 'a:b', firstName: 'a', lastName: 'b' }, {}, 400, 'validation_failed'],
        ['POST', '/users', { firstName: 'a', lastName: 'b', email: 'nope' }, {}, 400, 'validation_failed'],
        ['POST', '/users', big, {}, 413, 'body_too_large'],
        ['POST', '/users', 'first=a', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
        ['POST', '/users', '{"firstName":"\\ud800","lastName":"b"}', {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', '{"name":"A\\udc00B","price":"1.00"}', {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', '{"name":"n","price":"1.00","\\ud83d":1}', {}, 400, 'validation_failed'],
        [
          'POST',
          '/users',
          { firstName: 'Zoë', lastName: 'b' },
          { 'content-type': 'application/json; charset=iso-8859-1' },
          415,
          'unsupported_media_type',
        ],
        [
          'POST',
          '/users',
          { firstName: 'a', lastName: 'b' },
          { 'Idempotency-Key': 'bad key!' },
          400,
          'validation_failed',
        ],
        ['GET', '/users/bad:id', undefined, {}, 400, 'validation_failed'],
        ['PATCH', '/users/1', {}, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: 'n', price: '1.999' }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: 'n', price: -1 }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: 'n', price: '1e3' }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: 'n', price: '1000000.01' }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: 'n', price: true }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/x1', { name: '', price: '1.00' }, {}, 400, 'validation_failed'],
        ['PUT', '/skus/a*b', { name: 'n', price: '1.00' }, {}, 400, 'validation_failed'],
        ['GET', '/skus?limit=0', undefined, {}, 400, 'validation_failed'],
        ['GET', '/skus?limit=500', undefined, {}, 400, 'validation_failed'],
        ['GET', '/skus?cursor=%25%25', undefined, {}, 400, 'validation_failed'],
        [
          'GET',
          `/skus?cursor=${Buffer.from('a:b').toString('base64url')}`,
          undefined,
          {},
          400,
          'invalid_cursor',
        ],
        ['GET', '/skus?sort=name', undefined, {}, 400, 'validation_failed'],
        ['POST', '/carts/1/items', { skuId: 'sku123', quantity: 0 }, {}, 400, 'validation_failed'],
        ['POST', '/carts/1/items', { skuId: 'sku123', quantity: 1.5 }, {}, 400, 'validation_failed'],
        ['POST', '/carts/1/items', { skuId: 'sku123', quantity: '2' }, {}, 400, 'validation_failed'],
        ['POST', '/carts/1/items', { skuId: 'nosuch' }, {}, 404, 'sku_not_found'],
        ['POST', '/carts/nobody/items', { skuId: 'sku123' }, {}, 404, 'user_not_found'],
        ['POST', '/carts/1/items', { skuId: 'sku123', quantity: 1000 }, {}, 409, 'quantity_limit_exceeded'],
        ['PUT', '/carts/1/items/sku123', { quantity: -1 }, {}, 400, 'validation_failed'],
        [
          'PUT',
          '/carts/1/items/sku123',
          { quantity: 1 },
          { 'If-Match': 'garbage!' },
          400,
          'validation_failed',
        ],
        ['DELETE', '/carts/1/items/sku123?quantity=0', undefined, {}, 400, 'validation_failed'],
        ['DELETE', '/carts/1/items/sku123?quantity=abc', undefined, {}, 400, 'validation_failed'],
        ['DELETE', '/carts/1/items/nosuch', undefined, {}, 404, 'cart_line_not_found'],
        ['GET', '/carts/nobody', undefined, {}, 404, 'user_not_found'],
        ['DELETE', '/skus/nosuch', undefined, {}, 404, 'sku_not_found'],
        ['DELETE', '/users/nobody', undefined, {}, 404, 'user_not_found'],
      ];
      for (const [method, path, body, headers, status, code] of cases) {
        const res = await call(method, path, body, headers);
        expect({ method, path, status: res.status, code: res.body?.code }).toEqual({
          method,
          path,
          status,
          code,
        });
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(typeof res.body.detail).toBe('string');
      }
      expect(await snapshot()).toEqual(before);
      // The field with the lone surrogate is named; a surrogate pair (an emoji) and charset=utf-8 are fine.
      const lone = await call('POST', '/users', '{"firstName":"\\ud800","lastName":"b"}');
      expect(lone.body.errors).toEqual([
        { field: 'body.firstName', message: 'contains a lone surrogate (not valid Unicode)' },
      ]);
      const emoji = await call(
        'POST',
        '/users',
        { id: 'emoji', firstName: '😀', lastName: 'b' },
        {
          'content-type': 'application/json; charset=UTF-8',
        },
      );
      expect([emoji.status, emoji.body.firstName]).toEqual([201, '😀']);
    });

    it('serves an OpenAPI 3.1 document that covers every registered HTTP function', async () => {
      const res = await call('GET', '/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      const ids = Object.values(
        res.body.paths as Record<string, Record<string, { operationId: string }>>,
      ).flatMap((p) => Object.values(p).map((o) => o.operationId));
      expect(runner.httpFunctions.length).toBeGreaterThan(10);
      for (const f of runner.httpFunctions) expect(ids).toContain(f);
      // Only the header scheme: Swagger UI's Authorize must never put the key in a URL.
      const schemes = res.body.components.securitySchemes as Record<string, { type: string; in?: string }>;
      expect(schemes).toEqual({
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      });
    });

    it('sends the security headers on every response of every route, successes and problems alike', async () => {
      await seed();
      const doc = (await call('GET', '/openapi.json')).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      let checked = 0;
      for (const [template, operations] of Object.entries(doc.paths)) {
        for (const method of Object.keys(operations)) {
          // Real ids where they exist (successes), 'x' elsewhere (404s); a broken body for writes (400s:
          // nothing is written, no load is started).
          const path = template.replace('{userId}', '1').replace(/\{[^}]+\}/g, 'x');
          const res = await call(
            method.toUpperCase(),
            path,
            ['get', 'delete'].includes(method) ? undefined : '{',
          );
          const headers = {
            what: `${method} ${path} ${res.status}`,
            csp: res.headers.get('content-security-policy')?.includes("default-src 'none'"),
            nosniff: res.headers.get('x-content-type-options'),
            referrer: res.headers.get('referrer-policy'),
          };
          expect(headers).toEqual({
            what: headers.what,
            csp: true,
            nosniff: 'nosniff',
            referrer: 'no-referrer',
          });
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(15);
    });

    it('redirects a page asked for with a trailing slash to its canonical URL', async () => {
      for (const page of ['app', 'docs']) {
        const res = await fetch(`${runner.url}/api/${page}/?x=1`, { redirect: 'manual' });
        expect([res.status, res.headers.get('location')]).toEqual([308, `/api/${page}?x=1`]);
      }
    });
  });
}
