import { describe, expect, it } from 'vitest';

import { KeyMemo } from '../../shared/redis/keyMemo.js';

describe('KeyMemo', () => {
  it('keeps a value read before no invalidation, and forgets it when its key is invalidated', () => {
    const memo = new KeyMemo<string>(10, 60_000);
    memo.set('sku:a', 'v1', memo.version());
    expect(memo.get('sku:a')).toBe('v1');
    memo.drop('sku:a');
    expect(memo.get('sku:a')).toBeUndefined();
  });

  it('does not keep a value whose read was overtaken by any invalidation (its own may have come first)', () => {
    const memo = new KeyMemo<string>(10, 60_000);
    const readAt = memo.version();
    memo.drop('sku:a');
    memo.set('sku:a', 'stale', readAt);
    expect(memo.get('sku:a')).toBeUndefined();
  });

  it('forgets everything on a flush, keeps nothing while paused, and keeps again once resumed', () => {
    const memo = new KeyMemo<string>(10, 60_000);
    memo.set('a', '1', memo.version());
    memo.set('b', '2', memo.version());
    memo.drop(null);
    expect([memo.get('a'), memo.get('b'), memo.size]).toEqual([undefined, undefined, 0]);
    memo.pause();
    memo.set('a', '1', memo.version());
    expect(memo.get('a')).toBeUndefined();
    memo.resume();
    memo.set('a', '1', memo.version());
    expect(memo.get('a')).toBe('1');
  });

  it('expires values after the TTL and drops the oldest when full', () => {
    const memo = new KeyMemo<string>(2, 1000);
    memo.set('a', '1', memo.version(), 0);
    memo.set('b', '2', memo.version(), 0);
    memo.set('c', '3', memo.version(), 0);
    expect([memo.get('a', 10), memo.get('b', 10), memo.get('c', 10)]).toEqual([undefined, '2', '3']);
    expect(memo.get('b', 1000)).toBeUndefined();
    expect(memo.hits).toBe(2);
  });

  it('keeps values under the name of their key, and counts the invalidation of a key it has no name for', () => {
    const memo = new KeyMemo<string>(10, 60_000, (key) =>
      key.startsWith('sku:') ? key.slice(4) : undefined,
    );
    memo.set('a', '1', memo.version());
    memo.drop('sku:b');
    expect(memo.get('a')).toBe('1');
    memo.drop('sku:a');
    expect(memo.get('a')).toBeUndefined();
    const readAt = memo.version();
    memo.drop('user:a');
    memo.set('a', 'stale', readAt);
    expect(memo.get('a')).toBeUndefined();
  });
});
