import { describe, expect, it } from 'vitest';

import { freshModules } from '../support/fresh.js';

/** keys.ts with fresh settings, read from `env`. */
async function keysWith(env: Record<string, string>) {
  freshModules({ REDIS_KEY_PREFIX: env.REDIS_KEY_PREFIX ?? '' });
  return (await import('../../shared/redis/keys.js')).keys;
}

describe('keys', () => {
  it('spells the classic demo keys without a prefix', async () => {
    const keys = await keysWith({});
    expect([keys.user('1'), keys.sku('sku123'), keys.cart('1'), keys.biglist()]).toEqual([
      'user:1',
      'sku:sku123',
      'cart:1',
      'biglist',
    ]);
  });

  it('puts REDIS_KEY_PREFIX in front of every key, inside the hash tags that keep keys together', async () => {
    const keys = await keysWith({ REDIS_KEY_PREFIX: 'shop1:' });
    expect(keys.user('1')).toBe('shop1:user:1');
    expect(keys.userGeneration('1')).toBe('{shop1:user:1}:generation');
    expect(keys.cartOwner('1')).toBe('{shop1:cart:1}:owner');
    expect(keys.biglist()).toBe('shop1:biglist');
    expect(keys.biglistCurrent()).toBe('{shop1:biglist}:current');
    expect(keys.biglistSegment('abc', 3)).toBe('shop1:biglist:{abc:3}');
  });

  it("reads a SKU's id back from its key, and no id from any other key", async () => {
    const keys = await keysWith({ REDIS_KEY_PREFIX: 'shop1:' });
    expect(keys.skuIdOf(keys.sku('__proto__'))).toBe('__proto__');
    expect([keys.skuIdOf('sku:a'), keys.skuIdOf(keys.skuIndex()), keys.skuIdOf(keys.user('a'))]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('refuses to build a key from an id that could reach another key', async () => {
    const keys = await keysWith({});
    for (const bad of ['a:b', 'x}y', 'a b', '*', '']) expect(() => keys.user(bad)).toThrow(/invalid id/);
  });
});
