// The build that the tests, `npm start` and the demo run first: only when a source is newer than the last
// build, so that a single test file never runs stale code and a current build is never redone.
import { statSync, utimesSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { isStale } from '../../scripts/buildIfStale.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const touched: Array<{ file: string; atime: Date; mtime: Date }> = [];

function touch(path: string, at: Date): void {
  const file = resolve(ROOT, path);
  const s = statSync(file);
  touched.push({ file, atime: s.atime, mtime: s.mtime });
  utimesSync(file, s.atime, at);
}

afterEach(() => {
  for (const t of touched.splice(0)) utimesSync(t.file, t.atime, t.mtime);
});

describe('buildIfStale', () => {
  it('sees the build the test run started with as current', () => {
    expect(isStale()).toBe(false);
  });

  it.each([
    'shared/money.ts',
    'functions/carts.ts',
    'local-runner/routes.ts',
    'web/src/app/shop.ts',
    'package.json',
  ])('sees an edit of %s after the build as stale', (path) => {
    touch(path, new Date(Date.now() + 60_000));
    expect(isStale()).toBe(true);
  });

  it('does not rebuild for an edit of a test (tests run from source)', () => {
    touch('test/unit/money.test.ts', new Date(Date.now() + 60_000));
    expect(isStale()).toBe(false);
  });
});
