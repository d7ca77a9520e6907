// Guest carts and their merge at sign-in, end to end through the local runner against real Redis and the
// development issuer's real tokens. Run once per Redis mode: on a cluster the guest cart and the
// shopper's cart live in different hash slots, and the merge must still apply once.

import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { type DevIssuer, startDevIssuer } from '../../scripts/devIssuer.js';
import { startApp } from '../support/app.js';
import { call, type Res } from '../support/http.js';
import { admin } from '../support/redis.js';

const AUDIENCE = 'api://cart-guests';

/** Defines the guest cart suite against Redis in the given mode. */
export function guestSuite(mode: 'standalone' | 'cluster'): void {
  const servers = inject('servers');
  const ports = mode === 'cluster' ? servers.cluster.ports : [servers.standalone.port];
  let runner: Runner;
  let issuer: DevIssuer;
  let adminToken: string;

  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(runner.url, method, path, body, headers);
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const guest = (token: string) => ({ 'Cart-Token': token });
  const shopper = async (sub: string) => bearer(await issuer.issue({ sub }));
  const lines = (res: Res) =>
    Object.fromEntries(
      (res.body.items as Array<{ skuId: string; quantity: number }>).map((l) => [l.skuId, l.quantity]),
    );

  /** Every key in Redis with its TTL, across all primaries. */
  async function everyKey(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const port of ports) {
      await admin(port, async (c) => {
        for (const key of await c.keys('*')) out.set(key, await c.ttl(key));
      });
    }
    return out;
  }

  async function newGuestCart(items: Record<string, number> = {}): Promise<string> {
    const created = await api('POST', '/guest-cart');
    expect(created.status).toBe(201);
    const token = created.body.cartToken as string;
    for (const [skuId, quantity] of Object.entries(items)) {
      expect((await api('POST', '/guest-cart/items', { skuId, quantity }, guest(token))).status).toBe(200);
    }
    return token;
  }

  beforeAll(async () => {
    issuer = await startDevIssuer({ audience: AUDIENCE });
    runner = await startApp(servers, {
      redis: mode === 'cluster' ? 'cluster' : undefined,
      env: { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: AUDIENCE, MAX_LINE_QUANTITY: '10' },
    });
    adminToken = await issuer.issue({ sub: 'cart-admin', roles: ['Cart.Admin'] });
  });

  afterAll(async () => {
    await runner.stop();
    await issuer.stop();
  });

  beforeEach(async () => {
    for (const port of ports) await admin(port, (c) => c.flushAll());
    for (const [id, price] of [
      ['sku123', '199.99'],
      ['sku456', '49.99'],
      ['sku789', '5.00'],
    ] as const) {
      const res = await api('PUT', `/skus/${id}`, { name: id, price }, bearer(adminToken));
      expect(res.status).toBe(201);
    }
  });

  describe(`guest carts (${mode})`, { timeout: 60_000 }, () => {
    it('lets a guest shop with the cart token alone, stores only its hash, and expires the cart sooner than a customer cart', async () => {
      const created = await api('POST', '/guest-cart');
      expect(created.status).toBe(201);
      const token = created.body.cartToken as string;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.body.cart).toEqual({ userId: null, items: [], totalQuantity: 0, total: '0.00' });

      const h = { ...guest(token), 'Idempotency-Key': 'guest-add-1' };
      const add = await api('POST', '/guest-cart/items', { skuId: 'sku123', quantity: 2 }, h);
      expect([add.status, add.body.total]).toEqual([200, '399.98']);
      const replay = await api('POST', '/guest-cart/items', { skuId: 'sku123', quantity: 2 }, h);
      expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body.totalQuantity]).toEqual([
        200,
        'true',
        2,
      ]);
      await api('POST', '/guest-cart/items', { skuId: 'sku456' }, guest(token));
      const read = await api('GET', '/guest-cart', undefined, guest(token));
      expect([read.status, read.body.total, lines(read)]).toEqual([200, '449.97', { sku123: 2, sku456: 1 }]);
      const etag = read.headers.get('etag') ?? '';
      const set = await api(
        'PUT',
        '/guest-cart/items/sku456',
        { quantity: 3 },
        { ...guest(token), 'If-Match': etag },
      );
      expect([set.status, set.body.totalQuantity]).toEqual([200, 5]);
      const stale = await api(
        'PUT',
        '/guest-cart/items/sku456',
        { quantity: 4 },
        { ...guest(token), 'If-Match': etag },
      );
      expect(stale.status).toBe(412);
      const dec = await api('DELETE', '/guest-cart/items/sku456?quantity=2', undefined, guest(token));
      expect(lines(dec)).toEqual({ sku123: 2, sku456: 1 });

      // Nothing in Redis names the token; the cart and its record expire within GUEST_CART_TTL_DAYS (7).
      const keysNow = await everyKey();
      for (const key of keysNow.keys()) expect(key.includes(token)).toBe(false);
      // (The Idempotency-Key's record, also in the guest slot, keeps its own 24 hours.)
      const guestKeys = [...keysNow].filter(([k]) => k.includes('guestcart:') && !k.includes(':idem:'));
      expect(guestKeys.length).toBe(2);
      for (const [key, ttl] of guestKeys) {
        expect({ key, long: ttl > 6 * 86_400 && ttl <= 7 * 86_400 }).toEqual({ key, long: true });
      }
    });

    it('answers a missing or malformed Cart-Token with 400 naming the header, and an unknown one with 404', async () => {
      const missing = await api('GET', '/guest-cart');
      expect([missing.status, missing.body.errors?.[0]?.field]).toEqual([400, 'header.Cart-Token']);
      const malformed = await api('POST', '/guest-cart/items', { skuId: 'sku123' }, guest('short'));
      expect(malformed.status).toBe(400);
      const unknown = 'A'.repeat(43);
      const res = await api('POST', '/guest-cart/items', { skuId: 'sku123' }, guest(unknown));
      expect([res.status, res.body.code]).toEqual([404, 'guest_cart_not_found']);
      expect([...(await everyKey()).keys()].some((k) => k.includes('guestcart:'))).toBe(false);
    });

    it('merges the guest cart into the shopper cart (summed, capped at the line maximum), then the guest cart is gone; a repeat answers the merged cart', async () => {
      const ada = await shopper('ada');
      await api('POST', '/me/cart/items', { skuId: 'sku123', quantity: 2 }, ada);
      await api('POST', '/me/cart/items', { skuId: 'sku789', quantity: 7 }, ada);
      const token = await newGuestCart({ sku123: 3, sku456: 1, sku789: 6 });

      const merged = await api('POST', '/me/cart/merge', undefined, { ...ada, ...guest(token) });
      expect([merged.status, merged.body.userId, lines(merged)]).toEqual([
        200,
        'ada',
        { sku123: 5, sku456: 1, sku789: 10 },
      ]);
      expect(merged.headers.get('etag')).not.toBeNull();
      // The guest cart takes no more reads or writes.
      expect((await api('GET', '/guest-cart', undefined, guest(token))).status).toBe(404);
      const late = await api('POST', '/guest-cart/items', { skuId: 'sku123' }, guest(token));
      expect([late.status, late.body.code]).toEqual([404, 'guest_cart_not_found']);
      // Merged again: the cart as it is, nothing added.
      const again = await api('POST', '/me/cart/merge', undefined, { ...ada, ...guest(token) });
      expect([again.status, lines(again)]).toEqual([200, { sku123: 5, sku456: 1, sku789: 10 }]);
      expect(lines(await api('GET', '/me/cart', undefined, ada))).toEqual({
        sku123: 5,
        sku456: 1,
        sku789: 10,
      });
      // Another shopper with the same token gets nothing, and learns nothing of ada's cart.
      const bob = await shopper('bob');
      const theirs = await api('POST', '/me/cart/merge', undefined, { ...bob, ...guest(token) });
      expect([theirs.status, theirs.body.code]).toEqual([404, 'guest_cart_not_found']);
      expect(lines(await api('GET', '/me/cart', undefined, bob))).toEqual({});
      // The merge needs a signed-in shopper.
      expect((await api('POST', '/me/cart/merge', undefined, guest(await newGuestCart()))).status).toBe(401);
    });

    it('merges once when 100 requests race with the same token', async () => {
      const ada = await shopper('racer');
      await api('POST', '/me/cart/items', { skuId: 'sku123', quantity: 1 }, ada);
      const token = await newGuestCart({ sku123: 2, sku456: 3 });
      const answers = await Promise.all(
        Array.from({ length: 100 }, () =>
          api('POST', '/me/cart/merge', undefined, { ...ada, ...guest(token) }),
        ),
      );
      expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 100 }, () => 200));
      for (const r of answers) expect(lines(r)).toEqual({ sku123: 3, sku456: 3 });
      expect(lines(await api('GET', '/me/cart', undefined, ada))).toEqual({ sku123: 3, sku456: 3 });
      if (mode === 'cluster') {
        // The two carts are in different hash slots: the merge cannot be one script.
        const guestKey = [...(await everyKey()).keys()].find((k) => k.includes('guestcart:')) ?? '';
        const slots = await admin(ports[0] ?? 0, async (c) => [
          await c.clusterKeySlot('cart:racer'),
          await c.clusterKeySlot(guestKey),
        ]);
        expect(slots[0]).not.toBe(slots[1]);
      }
    });

    it('gives one guest cart to one shopper when two race for the same token', async () => {
      const [one, two] = [await shopper('first'), await shopper('second')];
      const token = await newGuestCart({ sku456: 2 });
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api('POST', '/me/cart/merge', undefined, { ...(i % 2 ? one : two), ...guest(token) }),
        ),
      );
      const carts = [
        lines(await api('GET', '/me/cart', undefined, one)),
        lines(await api('GET', '/me/cart', undefined, two)),
      ];
      expect(carts.filter((c) => c.sku456 === 2).length).toBe(1);
      expect(carts.filter((c) => Object.keys(c).length === 0).length).toBe(1);
      expect(answers.filter((r) => r.status === 200).length).toBe(10);
      expect(answers.filter((r) => r.status === 404).length).toBe(10);
    });
  });
}
