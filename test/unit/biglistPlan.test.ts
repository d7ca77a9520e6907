import { describe, expect, it } from 'vitest';

import {
  belongsTo,
  exportOrder,
  FANOUT,
  initialMessages,
  pageCursor,
  pageWindow,
  parseCurrent,
  planLoad,
  rangesFor,
  readPageCursor,
  segmentMessage,
} from '../../shared/biglist/plan.js';

const load = planLoad('abc', 2_500, 1_000);

describe('planLoad and messages', () => {
  it('splits 1..count into segments, the newest one shorter', () => {
    expect(load).toEqual({ loadId: 'abc', count: 2_500, segmentSize: 1_000, segments: 3 });
    expect(segmentMessage(load, 2)).toEqual({
      kind: 'segment',
      loadId: 'abc',
      index: 2,
      start: 2001,
      end: 2500,
    });
  });

  it('sends segment messages directly up to FANOUT segments, fan-out messages beyond', () => {
    expect(initialMessages(load)).toHaveLength(3);
    const huge = planLoad('big', (FANOUT * 2 + 1) * 10, 10);
    expect(initialMessages(huge)).toEqual([
      { kind: 'fanout', loadId: 'big', from: 0, to: FANOUT - 1 },
      { kind: 'fanout', loadId: 'big', from: FANOUT, to: 2 * FANOUT - 1 },
      { kind: 'fanout', loadId: 'big', from: 2 * FANOUT, to: 2 * FANOUT },
    ]);
  });

  it('recognises only messages that could have been sent for the load', () => {
    expect(belongsTo(load, segmentMessage(load, 1))).toBe(true);
    expect(belongsTo(load, { kind: 'segment', loadId: 'abc', index: 1, start: 1001, end: 1999 })).toBe(false);
    expect(belongsTo(load, { kind: 'segment', loadId: 'abc', index: 3, start: 3001, end: 3500 })).toBe(false);
    expect(belongsTo(load, { kind: 'fanout', loadId: 'abc', from: 0, to: 2 })).toBe(true);
    expect(belongsTo(load, { kind: 'fanout', loadId: 'abc', from: 2, to: 1 })).toBe(false);
  });
});

describe('reading positions', () => {
  it('maps positions counted from the newest value to segment ranges across segments', () => {
    // Newest segment (index 2) holds 2500..2001, i.e. positions 0..499.
    expect(rangesFor(load, 0, 9)).toEqual([{ index: 2, start: 0, stop: 9 }]);
    expect(rangesFor(load, 495, 1504)).toEqual([
      { index: 2, start: 495, stop: 499 },
      { index: 1, start: 0, stop: 999 },
      { index: 0, start: 0, stop: 4 },
    ]);
  });

  it('turns a page in either order into positions from the newest value', () => {
    expect(pageWindow(load, 'desc', 0, 10)).toEqual({ from: 0, to: 9, end: 9 });
    expect(pageWindow(load, 'asc', 0, 10)).toEqual({ from: 2490, to: 2499, end: 9 });
    expect(pageWindow(load, 'asc', 2495, 10)).toEqual({ from: 0, to: 4, end: 2499 });
    expect(pageWindow(load, 'desc', 2500, 10)).toBeUndefined();
  });

  it('visits segments newest first for desc and oldest first for asc', () => {
    expect(exportOrder(load, 'desc')).toEqual([2, 1, 0]);
    expect(exportOrder(load, 'asc')).toEqual([0, 1, 2]);
  });
});

describe('cursors and the published record', () => {
  it('round-trips a cursor and refuses anything it did not issue', () => {
    const c = { loadId: 'abc', position: 42, order: 'asc' as const };
    expect(readPageCursor(pageCursor(c))).toEqual(c);
    for (const bad of [
      '***',
      Buffer.from('{"l":"x:y","p":1,"o":"desc"}').toString('base64url'),
      Buffer.from('{"l":"a","p":-1,"o":"desc"}').toString('base64url'),
      Buffer.from('{"l":"a","p":1,"o":"up"}').toString('base64url'),
      Buffer.from('null').toString('base64url'),
    ]) {
      expect(readPageCursor(bad)).toBeUndefined();
    }
  });

  it('parses the published record, and refuses a record that does not fit', () => {
    expect(parseCurrent(JSON.stringify(load))).toEqual(load);
    expect(parseCurrent('{"loadId":"abc"}')).toBeUndefined();
    expect(parseCurrent('not json')).toBeUndefined();
    expect(parseCurrent(null)).toBeUndefined();
  });
});
