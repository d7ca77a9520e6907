// Reading the DUMP payload of a list of integers: the export decodes DUMP output instead of paging with
// LRANGE. Strings in a payload may be LZF-compressed (Redis's default `rdbcompression yes`).
import { CONTAINER_PACKED, INT_ENCODINGS, LISTPACK_HEADER, RDB_TYPE_LIST_QUICKLIST_2 } from './format.js';

const { uint7, int13, int16, int24, int32 } = INT_ENCODINGS;

/** A payload this module cannot read. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** LZF decompression, as Redis compresses strings in RDB when `rdbcompression` is on (the default). */
function lzfDecompress(input: Uint8Array, outLength: number, scratch?: Buffer): Buffer {
  const out =
    scratch && scratch.length >= outLength ? scratch.subarray(0, outLength) : Buffer.allocUnsafe(outLength);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++] ?? 0;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > outLength || ip + run > input.length) throw new PayloadError('corrupt LZF literal run');
      // Runs are at most 32 bytes: a loop beats making a view for each.
      for (let k = 0; k < run; k++) out[op++] = input[ip++] ?? 0;
    } else {
      let len = ctrl >> 5;
      if (len === 7) len += input[ip++] ?? 0;
      const ref = op - ((ctrl & 0x1f) << 8) - 1 - (input[ip++] ?? 0);
      len += 2;
      if (ref < 0 || op + len > outLength) throw new PayloadError('corrupt LZF back reference');
      // Byte by byte: matches are short here, and the source may overlap what is being written.
      for (let k = 0; k < len; k++) out[op++] = out[ref + k] ?? 0;
    }
  }
  if (op !== outLength) throw new PayloadError('LZF data shorter than announced');
  return out;
}

/** Reads the RDB primitives of a payload from its start (lengths, strings). */
export class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new PayloadError('payload ends early');
    return this.buf[this.at++] ?? 0;
  }

  /** An RDB length, or the special encoding marker (negative: -1 - type) for strings. */
  length(): number {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return first & 0x3f;
      case 1:
        return ((first & 0x3f) << 8) | this.byte();
      case 2: {
        if (first === 0x80) {
          const n = this.buf.readUInt32BE(this.at);
          this.at += 4;
          return n;
        }
        if (first === 0x81) {
          const n = Number(this.buf.readBigUInt64BE(this.at));
          this.at += 8;
          return n;
        }
        throw new PayloadError(`unknown length prefix ${first}`);
      }
      default:
        return -1 - (first & 0x3f);
    }
  }

  /** An RDB string: raw, integer-encoded or LZF-compressed (into `scratch` when it is large enough). */
  string(scratch?: Buffer): Buffer {
    const n = this.length();
    if (n >= 0) return this.take(n);
    switch (-1 - n) {
      case 0: {
        const v = this.buf.readInt8(this.at);
        this.at += 1;
        return Buffer.from(String(v));
      }
      case 1: {
        const v = this.buf.readInt16LE(this.at);
        this.at += 2;
        return Buffer.from(String(v));
      }
      case 2: {
        const v = this.buf.readInt32LE(this.at);
        this.at += 4;
        return Buffer.from(String(v));
      }
      case 3: {
        const compressed = this.length();
        const original = this.length();
        return lzfDecompress(this.take(compressed), original, scratch);
      }
      default:
        throw new PayloadError(`unknown string encoding ${-1 - n}`);
    }
  }

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new PayloadError('payload ends early');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/**
 * Reads a list of integers from its DUMP payload into `into`, head first, and returns how many there were:
 * the export's fast path (no callback or allocation per value). Throws PayloadError for anything else
 * than a quicklist of integers that fits.
 */
export function readIntegers(payload: Buffer, into: Int32Array): number {
  const r = new Reader(payload);
  const type = r.byte();
  if (type !== RDB_TYPE_LIST_QUICKLIST_2)
    throw new PayloadError(`not a quicklist list payload (type ${type})`);
  const nodes = r.length();
  const scratch = Buffer.allocUnsafe(65_536);
  let n = 0;
  for (let i = 0; i < nodes; i++) {
    if (r.length() !== CONTAINER_PACKED) throw new PayloadError('a list node that is not a listpack');
    const lp = r.string(scratch);
    const end = lp.length - 1;
    let at = LISTPACK_HEADER;
    while (at < end) {
      if (n >= into.length) throw new PayloadError('more values than expected');
      const b = lp[at] ?? 0;
      // Each entry is its encoding's size plus one back-length byte.
      if (b <= uint7.max) {
        into[n++] = b;
        at += uint7.size + 1;
      } else if (b >= int13.tag && b < 0xe0) {
        const u = ((b & 0x1f) << 8) | (lp[at + 1] ?? 0);
        into[n++] = u > int13.max ? u - 8192 : u;
        at += int13.size + 1;
      } else if (b === int16.tag) {
        into[n++] = lp.readInt16LE(at + 1);
        at += int16.size + 1;
      } else if (b === int24.tag) {
        const u = (lp[at + 1] ?? 0) | ((lp[at + 2] ?? 0) << 8) | ((lp[at + 3] ?? 0) << 16);
        into[n++] = u > int24.max ? u - 0x1000000 : u;
        at += int24.size + 1;
      } else if (b === int32.tag) {
        into[n++] = lp.readInt32LE(at + 1);
        at += int32.size + 1;
      } else {
        throw new PayloadError(`not a 32-bit integer entry (${b})`);
      }
    }
  }
  return n;
}
