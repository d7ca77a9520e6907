import { describe, expect, it } from 'vitest';

import { AddCartItemInput } from '../../shared/carts/schema.js';
import { formatCents, parsePrice, parsePriceNumber } from '../../shared/money.js';
import { PutSkuInput } from '../../shared/skus/schema.js';
import { CreateUserInput } from '../../shared/users/schema.js';

describe('money', () => {
  it.each([
    ['0', 0],
    ['0.5', 50],
    ['199.99', 19_999],
    ['5', 500],
    ['1000000.00', 100_000_000],
  ])('parses %s as %i cents', (text, cents) => {
    expect(parsePrice(text)).toBe(cents);
  });

  it.each(['', '-1', '1.999', '1e3', '01.00', '1,00', ' 1', '1000000.01', 'NaN', '.5', '5.'])(
    'rejects %j',
    (text) => {
      expect(parsePrice(text)).toBeUndefined();
    },
  );

  it('reads JSON numbers by their shortest decimal form, never by float arithmetic', () => {
    expect(parsePriceNumber(199.99)).toBe(19_999);
    expect(parsePriceNumber(0.1)).toBe(10);
    expect(parsePriceNumber(1.005)).toBeUndefined();
    expect(parsePriceNumber(1e21)).toBeUndefined();
    expect(parsePriceNumber(Number.NaN)).toBeUndefined();
    expect(parsePriceNumber(-0.5)).toBeUndefined();
  });

  it('formats cents with exactly two decimals, also beyond 2^53 as BigInt', () => {
    expect(formatCents(44_948)).toBe('449.48');
    expect(formatCents(5)).toBe('0.05');
    expect(formatCents(0)).toBe('0.00');
    expect(formatCents(100)).toBe('1.00');
    expect(formatCents(1_999)).toBe('19.99');
    expect(formatCents(-250)).toBe('-2.50');
    expect(formatCents(2n ** 60n)).toBe('11529215046068469.76');
  });

  it('sums line totals exactly where floats drift', () => {
    const lines = Array.from({ length: 10 }, () => parsePrice('0.10') ?? 0);
    expect(formatCents(lines.reduce((a, b) => a + b, 0))).toBe('1.00');
  });
});

describe('schemas', () => {
  it('parses a SKU price from a string or a number into cents', () => {
    expect(PutSkuInput.parse({ name: 'AirPods', price: '199.99' })).toEqual({
      name: 'AirPods',
      price: 19_999,
    });
    expect(PutSkuInput.parse({ name: 'AirPods', price: 199.99 }).price).toBe(19_999);
  });

  it.each([
    { price: '1.999' },
    { price: -1 },
    { price: true },
    { price: '1e2' },
    { price: '5', extra: 1 },
    { price: '5', name: '' },
  ])('rejects SKU body %j', (patch) => {
    expect(PutSkuInput.safeParse({ name: 'n', ...patch }).success).toBe(false);
  });

  it('defaults a cart add to one and rejects non-integers', () => {
    expect(AddCartItemInput.parse({ skuId: 'sku123' })).toEqual({ skuId: 'sku123', quantity: 1 });
    expect(AddCartItemInput.safeParse({ skuId: 'sku123', quantity: 1.5 }).success).toBe(false);
    expect(AddCartItemInput.safeParse({ skuId: 'sku123', quantity: '2' }).success).toBe(false);
    expect(AddCartItemInput.safeParse({ skuId: 'a:b' }).success).toBe(false);
  });

  it.each(['a:b', 'a b', 'x*', '{1}', '', 'a'.repeat(65)])(
    'refuses id %j that could reach another key',
    (id) => {
      expect(CreateUserInput.safeParse({ id, firstName: 'a', lastName: 'b' }).success).toBe(false);
    },
  );
});
