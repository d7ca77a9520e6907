import { describe, expect, it } from 'vitest';

import { deadLetter } from '../../shared/biglist/loader.js';

const parsed = (s: string) => JSON.parse(s) as { reason: string; truncated: boolean; message: string };

describe('deadLetter', () => {
  it('keeps a small message whole, with its reason', () => {
    expect(parsed(deadLetter('{"kind":"x"}', 'malformed: kind'))).toEqual({
      reason: 'malformed: kind',
      truncated: false,
      message: '{"kind":"x"}',
    });
  });

  it('cuts a large message to 16 KB and says so, whether it comes as text or parsed', () => {
    const text = `[${Array.from({ length: 9000 }, () => '1e20').join(',')}]`;
    for (const raw of [text, JSON.parse(text) as unknown]) {
      const letter = deadLetter(raw, 'malformed');
      expect(parsed(letter)).toMatchObject({ truncated: true });
      expect(parsed(letter).message).toHaveLength(16_384);
      expect(letter.length).toBeLessThan(20_000);
    }
  });

  it('never throws for a value nested too deep to serialise, and bounds the reason', () => {
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const letter = parsed(deadLetter(deep, 'x'.repeat(5000)));
    expect(letter.message).toBe('(not serialisable: nested too deeply)');
    expect(letter.reason).toHaveLength(1000);
  });
});
