import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { AppError } from '../../shared/errors.js';
import { parseIfMatch } from '../../shared/http/request.js';

const withIfMatch = (value?: string) =>
  parseIfMatch(
    new HttpRequest({
      method: 'PUT',
      url: 'http://127.0.0.1/api/x',
      headers: value === undefined ? {} : { 'if-match': value },
    }),
  );

describe('parseIfMatch (RFC 9110)', () => {
  it('is undefined without the header (or with an empty one)', () => {
    expect(withIfMatch()).toBeUndefined();
    expect(withIfMatch('  ')).toBeUndefined();
  });

  it('reads * as "any current representation"', () => {
    expect(withIfMatch('*')).toBe('*');
    expect(withIfMatch(' * ')).toBe('*');
  });

  it.each([
    ['"abc"', ['abc']],
    ['"a", W/"b",  "c,d" ,""', ['a', 'c,d', '']],
    ['W/"only-weak"', []],
    [', "a",,', ['a']],
  ])('reads %s as the strong tags %j (weak ones dropped: they never match in If-Match)', (header, tags) => {
    expect(withIfMatch(header)).toEqual(tags);
  });

  it.each(['abc', '"unterminated', '"a" "b"', ',', 'W/ "a"', '"a"x', 'w/"a"'])(
    'refuses %s with validation_failed',
    (header) => {
      const err: unknown = (() => {
        try {
          return withIfMatch(header);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('validation_failed');
    },
  );
});
