// The guest cart's Lua and the merge's three steps called directly against a real Redis: a guest write
// never revives an expired or frozen cart, a write keeps the cart and its record alive together, and each
// merge step run twice changes nothing the first run did not.
import { describe, expect, inject, it } from 'vitest';

import { GUEST_FINISH, GUEST_FREEZE, GUEST_OPEN, MERGE_APPLY } from '../../shared/carts/guestScripts.js';
import { GUEST_CART_ADD } from '../../shared/carts/scripts.js';
import { runScript } from '../../shared/redis/scripts.js';
import { scriptTestClient } from '../support/redis.js';

const servers = inject('servers');
const client = scriptTestClient(servers.standalone.port);
const G = { cart: 'guestcart:h', owner: '{guestcart:h}:owner' };
const U = { cart: 'cart:u', owner: '{cart:u}:owner', record: '{cart:u}:merged:h' };
const guestAdd = (sku: string, qty: number, ttl = '600') =>
  runScript(client, GUEST_CART_ADD, [G.cart, G.owner], [sku, String(qty), '10', ttl, '1']);
const apply = (lines: Record<string, string>) =>
  runScript(
    client,
    MERGE_APPLY,
    [U.cart, U.owner, U.record],
    ['1', '10', '900', '1200', ...Object.entries(lines).flat()],
  );

describe('guest cart scripts', () => {
  it('refuses a write to a guest cart that was never opened (or expired), and creates nothing', async () => {
    expect(await guestAdd('sku', 1)).toEqual({ status: 'gone' });
    expect(await client.keys('*')).toEqual([]);
  });

  it('keeps the cart and its record alive together: a write sets both to the guest TTL', async () => {
    expect(await runScript(client, GUEST_OPEN, [G.owner], ['100'])).toBe(1);
    expect(await runScript(client, GUEST_OPEN, [G.owner], ['100'])).toBe(0);
    expect(await guestAdd('sku', 2, '600')).toEqual({ status: 'ok', lines: { sku: '2' } });
    expect([await client.ttl(G.owner), await client.ttl(G.cart)]).toEqual([600, 600]);
  });

  it('merges in three steps that may each run again: frozen once for one shopper, applied once, finished once', async () => {
    await runScript(client, GUEST_OPEN, [G.owner], ['600']);
    await guestAdd('a', 2);
    await guestAdd('b', 9);
    await client.hSet(U.cart, { a: '1', b: '4', c: '1' });
    await client.hSet(U.owner, { live: '1' });

    const frozen = await runScript(client, GUEST_FREEZE, [G.cart, G.owner], ['u', '700']);
    expect(frozen).toEqual({ status: 'frozen', lines: { a: '2', b: '9' } });
    expect(await runScript(client, GUEST_FREEZE, [G.cart, G.owner], ['u', '700'])).toEqual(frozen);
    expect(await runScript(client, GUEST_FREEZE, [G.cart, G.owner], ['v', '700'])).toEqual({
      status: 'taken',
    });
    // Frozen: the guest cart takes no more writes.
    expect(await guestAdd('a', 1)).toEqual({ status: 'gone' });

    // Summed, capped at the maximum (10).
    const merged = { a: '3', b: '10', c: '1' };
    expect(await apply({ a: '2', b: '9' })).toEqual({ status: 'ok', lines: merged });
    expect(await apply({ a: '2', b: '9' })).toEqual({ status: 'replayed', lines: merged });
    expect(await client.ttl(U.record)).toBe(1200);

    expect(await runScript(client, GUEST_FINISH, [G.cart, G.owner], ['800'])).toBe(1);
    expect(await client.exists(G.cart)).toBe(0);
    expect(await client.hGetAll(G.owner)).toEqual({ live: '1', closed: '1', into: 'u', merged: '1' });
    expect(await client.ttl(G.owner)).toBe(800);
    // A merge retried after the finish reads no lines and finds its record: nothing changes.
    const after = await runScript(client, GUEST_FREEZE, [G.cart, G.owner], ['u', '700']);
    expect(after).toEqual({ status: 'frozen', lines: {} });
    expect(await apply({})).toEqual({ status: 'replayed', lines: merged });
    expect(await client.hGetAll(U.cart)).toEqual(merged);
  });

  it('never lowers a line already above the maximum, and skips a guest line that is not a whole number', async () => {
    await client.hSet(U.cart, { a: '50' });
    await client.hSet(U.owner, { live: '1' });
    expect(await apply({ a: '3', b: 'abc', c: '2' })).toEqual({ status: 'ok', lines: { a: '50', c: '2' } });
  });
});
