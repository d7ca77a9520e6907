// The cart's Lua called directly against a real Redis: the idempotency record written with the change,
// the generation rules, and parity of every TypeScript twin of a Lua rule (lines hash, line quantity).
import { describe, expect, inject, it } from 'vitest';

import {
  CART_ADD,
  CART_READ,
  CART_REMOVE,
  CART_RESERVE,
  CART_SET,
  lineQuantity,
  linesHash,
} from '../../shared/carts/scripts.js';
import { runScript } from '../../shared/redis/scripts.js';
import { scriptTestClient } from '../support/redis.js';

const servers = inject('servers');
const client = scriptTestClient(servers.standalone.port);
const K = { cart: 'cart:s', owner: '{cart:s}:owner', record: '{cart:s}:idem:k1' };
const add = (qty: number, record?: { key: string; fingerprint: string }, max = '1000') =>
  runScript(
    client,
    CART_ADD,
    [K.cart, K.owner, ...(record ? [record.key] : [])],
    ['sku', String(qty), max, '600', '1', ...(record ? [record.fingerprint] : [])],
  );

describe('cart scripts', () => {
  it('records an Idempotency-Key with the change: a replay changes nothing, another request with the key is refused', async () => {
    const record = { key: K.record, fingerprint: 'f1' };
    expect(await add(2, record)).toEqual({ status: 'ok', lines: { sku: '2' } });
    expect(await client.get(K.record)).toBe('f1');
    expect(await client.ttl(K.record)).toBeGreaterThan(86_000);
    expect(await add(2, record)).toEqual({ status: 'replayed', lines: { sku: '2' } });
    expect(await add(5, { key: K.record, fingerprint: 'f2' })).toEqual({ status: 'reused' });
    expect(await client.hGetAll(K.cart)).toEqual({ sku: '2' });
  });

  it('records nothing for a change that did nothing, so the retry really runs', async () => {
    const record = { key: K.record, fingerprint: 'f1' };
    expect(await add(2000, record)).toEqual({ status: 'limit', current: 0 });
    expect(await client.exists(K.record)).toBe(0);
    const stale = await runScript(
      client,
      CART_REMOVE,
      [K.cart, K.owner, K.record],
      ['sku', '1', '600', 'not-the-hash', '1', 'f1'],
    );
    expect(stale).toEqual({ status: 'precondition' });
    expect(await client.exists(K.record)).toBe(0);
  });

  it('reads fields named __proto__ and constructor as fields (no prototype)', async () => {
    await client.hSet(K.cart, { ['__proto__']: '3', constructor: '4' });
    const read = await runScript(client, CART_READ, [K.cart, K.owner], []);
    expect(Object.getPrototypeOf(read.lines)).toBeNull();
    expect(Object.entries(read.lines).sort()).toEqual([
      ['__proto__', '3'],
      ['constructor', '4'],
    ]);
  });

  it('computes the lines hash as the TypeScript twin does (If-Match parity)', async () => {
    const carts: Array<Record<string, string>> = [
      {},
      { a: '1' },
      { B: '2', a: '1', _x: '3', '-y': '4', z9: '10', Z9: '11' },
      { ['__proto__']: '1', constructor: '2', sku123: 'abc', skuA: '-2' },
    ];
    for (const lines of carts) {
      await client.del(K.cart);
      for (const [f, v] of Object.entries(lines)) await client.hSet(K.cart, f, v);
      const expected = linesHash(Object.fromEntries(Object.entries(lines)));
      const matching = await runScript(client, CART_SET, [K.cart, K.owner], ['q', '1', '600', expected, '1']);
      expect({ lines, status: matching.status }).toEqual({ lines, status: 'ok' });
    }
  });

  it('reads a line quantity as the TypeScript twin does (parity of qty and lineQuantity)', async () => {
    const stored = [
      '1',
      '007',
      '999',
      'abc',
      '-2',
      '1.5',
      '0',
      '1e3',
      ' 5',
      '5 ',
      '',
      '0x10',
      '999999999999999',
      '1000000000000000',
    ];
    for (const v of stored) {
      await client.del(K.cart);
      await client.hSet(K.cart, 'sku', v);
      const after = await add(1, undefined, '10000000000000000');
      // The script adds 1 to what it reads as the quantity (0 for a line it cannot read).
      expect({ v, lua: after.status === 'ok' ? Number(after.lines.sku) - 1 : after }).toEqual({
        v,
        lua: lineQuantity(v),
      });
    }
  });

  it('issues generations above every one the owner record knows, and lets an unowned reservation expire', async () => {
    expect(await runScript(client, CART_RESERVE, [K.owner], ['600'])).toBe(1);
    expect(await client.ttl(K.owner)).toBeGreaterThan(0);
    // A record that lost its counter (expired, rewritten) still never hands out a closed generation again.
    await client.del(K.owner);
    await client.hSet(K.owner, { live: '3', closed: '5' });
    expect(await runScript(client, CART_RESERVE, [K.owner], ['600'])).toBe(6);
    await client.hSet(K.owner, { live: '7' });
    await runScript(client, CART_RESERVE, [K.owner], ['600']);
    // A live owner's record is kept.
    expect(await client.ttl(K.owner)).toBe(-1);
  });
});
