import { describe, expect, it } from 'vitest';

import { crc64 } from '../../shared/redis/rdb/crc64.js';
import { writeDecimalLines } from '../../shared/redis/rdb/decimalLines.js';
import { descendingListPayload } from '../../shared/redis/rdb/listPayload.js';
import { PayloadError, readIntegers } from '../../shared/redis/rdb/listReader.js';
import { type ListValue, readListPayload } from '../support/rdbReader.js';

const hex = (hi: number, lo: number) => hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');

function values(payload: Buffer): ListValue[] {
  const out: ListValue[] = [];
  readListPayload(payload, (v) => out.push(v));
  return out;
}

describe('crc64 (Redis, Jones)', () => {
  it('gives the published check value for "123456789"', () => {
    expect(hex(...crc64(Buffer.from('123456789')))).toBe('e9c6d914c4b8d9ca');
  });

  it('gives the same result at any alignment and when continued piecewise', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256));
    const whole = crc64(data);
    for (const offset of [1, 2, 3, 5]) {
      const shifted = Buffer.alloc(data.length + offset);
      data.copy(shifted, offset);
      expect(crc64(shifted, offset)).toEqual(whole);
    }
    expect(crc64(data, 500, 1000, crc64(data, 0, 500))).toEqual(whole);
  });
});

describe('descendingListPayload', () => {
  it('writes the payload Redis 7.0 dumps for the list 3, 2, 1', () => {
    // From `RPUSH l 3 2 1` then `DUMP l` on redis-server 7.0.15 with rdbcompression off.
    expect(descendingListPayload(3, 1).toString('hex')).toBe(
      '1201020d0d0000000300030102010101ff0a00bee9b55c73042afa',
    );
  });

  it.each([
    [1, 1],
    [127, 120],
    [140, 100],
    [4200, 4000],
    [33_000, 32_000],
    [8_388_700, 8_388_500],
    [2_000_000, 1_000_001],
    [1_000_000_000, 999_990_000],
    [5, -5],
    [-4090, -4100],
  ])('decodes back to every value from %i down to %i, in order', (head, tail) => {
    const out = values(descendingListPayload(head, tail));
    expect(out.length).toBe(head - tail + 1);
    let bad = -1;
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== head - i) {
        bad = i;
        break;
      }
    }
    expect(bad).toBe(-1);
  });

  it('ends with RDB version 10 and a checksum over the rest', () => {
    const p = descendingListPayload(50_000, 1);
    expect(p.readUInt16LE(p.length - 10)).toBe(10);
    const [hi, lo] = crc64(p, 0, p.length - 8);
    expect([p.readUInt32LE(p.length - 4), p.readUInt32LE(p.length - 8)]).toEqual([hi, lo]);
  });

  it('refuses what it cannot encode', () => {
    expect(() => descendingListPayload(1, 2)).toThrow(RangeError);
    expect(() => descendingListPayload(2 ** 31, 1)).toThrow(RangeError);
  });
});

describe('readListPayload', () => {
  it('refuses a payload of another type', () => {
    expect(() => values(Buffer.from([0x00, 0x01, 0x61, 0x0a, 0x00]))).toThrow(PayloadError);
  });
});

describe('readIntegers and writeDecimalLines', () => {
  it('decode a payload into an array and write it back as decimal lines, in both directions', () => {
    const values = new Int32Array(300);
    const n = readIntegers(descendingListPayload(150, -149), values);
    expect(n).toBe(300);
    expect([values[0], values[149], values[150], values[299]]).toEqual([150, 1, 0, -149]);
    const out = Buffer.alloc(300 * 12);
    const desc = out
      .subarray(0, writeDecimalLines(values, 0, n, false, out))
      .toString()
      .split('\n');
    expect(desc.slice(0, -1)).toEqual(Array.from({ length: 300 }, (_, i) => String(150 - i)));
    const asc = out
      .subarray(0, writeDecimalLines(values, 0, n, true, out))
      .toString()
      .split('\n');
    expect(asc.slice(0, -1)).toEqual(Array.from({ length: 300 }, (_, i) => String(i - 149)));
  });

  it('writes every number of digits, up to the largest 32-bit values', () => {
    const values = Int32Array.from([
      0, 9, 10, 99, 100, 12345, 999_999_999, 1_000_000_000, 2_147_483_647, -2_147_483_647,
    ]);
    const out = Buffer.alloc(values.length * 12);
    const text = out.subarray(0, writeDecimalLines(values, 0, values.length, false, out)).toString();
    expect(text).toBe(`${[...values].join('\n')}\n`);
  });

  it('refuses more values than the array holds', () => {
    expect(() => readIntegers(descendingListPayload(10, 1), new Int32Array(5))).toThrow(PayloadError);
  });
});
