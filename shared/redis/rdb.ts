// The serialized form of a Redis list, as DUMP produces and RESTORE takes it, for lists of integers.
//
// A payload is: the RDB type, the encoded value, the RDB version (2 bytes, little-endian) and a CRC-64 of
// everything before it (8 bytes, little-endian). We write type 18 (RDB_TYPE_LIST_QUICKLIST_2: quicklist
// nodes, each a listpack) and RDB version 10, both introduced by Redis 7.0: RESTORE refuses a payload
// whose version is newer than its own, and every server we support (Redis 7.0 and later, and Azure
// Managed Redis, which runs 7.4 on Redis Enterprise) reads version 10 and type 18. Nodes are split exactly
// as Redis 7.0 splits a list built by RPUSH with the default list-max-listpack-size (-2, 8 KB nodes), so
// a restored list is the list Redis would have built, and the payload equals what DUMP returns for it
// with rdbcompression off (a test compares them byte for byte).
//
// No maintained npm package implements Redis's CRC-64 (the "Jones" variant), so it lives here, tested
// against the variant's published check value.

/** RDB type of a list stored as quicklist nodes of listpacks (Redis 7.0+). */
const RDB_TYPE_LIST_QUICKLIST_2 = 18;
/** The RDB version Redis 7.0 writes; every later server reads it. */
export const RDB_VERSION = 10;
const CONTAINER_PLAIN = 1;
const CONTAINER_PACKED = 2;
// list-max-listpack-size -2: a node holds at most 8 KB; Redis estimates each insert as the node's size,
// the value's length as a string and 8 bytes of overhead.
const NODE_LIMIT = 8192;
const INSERT_OVERHEAD = 8;
const LISTPACK_HEADER = 6;
const LISTPACK_END = 0xff;

// ---------------------------------------------------------------------------------------------------
// CRC-64 (Jones): reflected polynomial 0x95ac9329ac4bc9b5, initial value 0, no final xor. Slicing by 8
// over two 32-bit halves, since JavaScript has no fast 64-bit integers.

const POLY_HI = 0x95ac9329;
const POLY_LO = 0xac4bc9b5;
const TABLE_HI = new Uint32Array(8 * 256);
const TABLE_LO = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  TABLE_HI[n] = hi;
  TABLE_LO[n] = lo;
}
for (let t = 1; t < 8; t++) {
  for (let n = 0; n < 256; n++) {
    const phi = TABLE_HI[(t - 1) * 256 + n] ?? 0;
    const plo = TABLE_LO[(t - 1) * 256 + n] ?? 0;
    const idx = plo & 0xff;
    TABLE_HI[t * 256 + n] = ((phi >>> 8) ^ (TABLE_HI[idx] ?? 0)) >>> 0;
    TABLE_LO[t * 256 + n] = (((plo >>> 8) | (phi << 24)) ^ (TABLE_LO[idx] ?? 0)) >>> 0;
  }
}

/** Redis's CRC-64 of `data[start, end)`, continuing from `crc` (as [hi, lo] 32-bit halves). */
export function crc64(
  data: Uint8Array,
  start = 0,
  end = data.length,
  crc: [number, number] = [0, 0],
): [number, number] {
  let [hi, lo] = crc;
  let i = start;
  const T_HI = TABLE_HI;
  const T_LO = TABLE_LO;
  // Bytes one at a time up to a 4-byte boundary, then 8 at a time read as two 32-bit words.
  for (; i < end && (data.byteOffset + i) % 4 !== 0; i++) {
    const idx = (lo ^ (data[i] ?? 0)) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ (T_LO[idx] ?? 0)) >>> 0;
    hi = ((hi >>> 8) ^ (T_HI[idx] ?? 0)) >>> 0;
  }
  const words = Math.floor((end - i) / 8) * 2;
  const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
  for (let j = 0; j < words; j += 2) {
    // Little-endian words: x86 and Arm, where Node runs for Azure Functions.
    const a = (lo ^ (w[j] ?? 0)) >>> 0;
    const b = (hi ^ (w[j + 1] ?? 0)) >>> 0;
    const i7 = 1792 + (a & 0xff);
    const i6 = 1536 + ((a >>> 8) & 0xff);
    const i5 = 1280 + ((a >>> 16) & 0xff);
    const i4 = 1024 + (a >>> 24);
    const i3 = 768 + (b & 0xff);
    const i2 = 512 + ((b >>> 8) & 0xff);
    const i1 = 256 + ((b >>> 16) & 0xff);
    const i0 = b >>> 24;
    hi =
      ((T_HI[i7] ?? 0) ^
        (T_HI[i6] ?? 0) ^
        (T_HI[i5] ?? 0) ^
        (T_HI[i4] ?? 0) ^
        (T_HI[i3] ?? 0) ^
        (T_HI[i2] ?? 0) ^
        (T_HI[i1] ?? 0) ^
        (T_HI[i0] ?? 0)) >>>
      0;
    lo =
      ((T_LO[i7] ?? 0) ^
        (T_LO[i6] ?? 0) ^
        (T_LO[i5] ?? 0) ^
        (T_LO[i4] ?? 0) ^
        (T_LO[i3] ?? 0) ^
        (T_LO[i2] ?? 0) ^
        (T_LO[i1] ?? 0) ^
        (T_LO[i0] ?? 0)) >>>
      0;
  }
  i += words * 4;
  for (; i < end; i++) {
    const idx = (lo ^ (data[i] ?? 0)) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ (T_LO[idx] ?? 0)) >>> 0;
    hi = ((hi >>> 8) ^ (T_HI[idx] ?? 0)) >>> 0;
  }
  return [hi, lo];
}

// ---------------------------------------------------------------------------------------------------
// Building a payload.

/** An upper bound of the payload size for `count` values (at most 6 bytes each, plus node overhead). */
export function payloadBound(count: number): number {
  return count * 6 + Math.ceil(count / 1000) * 8 + 32;
}

/** Bytes of the listpack encoding of integer v (without its back-length byte). */
function intEntrySize(v: number): number {
  if (v >= 0 && v <= 127) return 1;
  if (v >= -4096 && v <= 4095) return 2;
  if (v >= -32768 && v <= 32767) return 3;
  if (v >= -8388608 && v <= 8388607) return 4;
  return 5;
}

/** Length of v written in decimal: what Redis counts for a value when it decides where a node ends. */
function decimalLength(v: number): number {
  return String(v).length;
}

// Where the entry size or the decimal length changes, so that a run between two of these has both fixed.
const BOUNDARIES = [
  -2_147_483_648, -999_999_999, -99_999_999, -9_999_999, -8_388_608, -999_999, -99_999, -32_768, -9_999,
  -4_096, -999, -99, -9, 0, 10, 100, 128, 1000, 4096, 10_000, 32_768, 100_000, 1_000_000, 8_388_608,
  10_000_000, 100_000_000, 1_000_000_000,
];

/** The lowest value of the run that `v` belongs to (values from it up to v encode alike). */
function runFloor(v: number, tail: number): number {
  let floor = tail;
  for (const b of BOUNDARIES) if (b <= v && b > floor) floor = b;
  return floor;
}

/**
 * How many values each node holds, for a descending range, as Redis 7.0 fills nodes on RPUSH: a value
 * goes into the current node while node bytes + its decimal length + 8 stays within 8 KB. Computed per run
 * of alike values, not per value.
 */
function planNodes(head: number, tail: number): { counts: number[]; bytes: number[] } {
  const counts: number[] = [];
  const bytes: number[] = [];
  let size = LISTPACK_HEADER + 1;
  let count = 0;
  let v = head;
  while (v >= tail) {
    const floor = runFloor(v, tail);
    const entry = intEntrySize(v) + 1;
    const room = NODE_LIMIT - INSERT_OVERHEAD - decimalLength(v);
    let left = v - floor + 1;
    while (left > 0) {
      // Values that still fit this node: size + k * entry <= room, for each one before it is added.
      const fit = size > room ? 0 : Math.floor((room - size) / entry) + 1;
      const take = count === 0 ? Math.max(1, Math.min(fit, left)) : Math.min(fit, left);
      if (take === 0) {
        counts.push(count);
        bytes.push(size);
        size = LISTPACK_HEADER + 1;
        count = 0;
        continue;
      }
      size += take * entry;
      count += take;
      left -= take;
      v -= take;
    }
  }
  counts.push(count);
  bytes.push(size);
  return { counts, bytes };
}

/** RDB length encoding (big-endian, unlike everything else here). */
function lengthSize(n: number): number {
  return n < 64 ? 1 : n < 16384 ? 2 : 5;
}

function writeLength(buf: Buffer, at: number, n: number): number {
  if (n < 64) {
    buf[at] = n;
    return 1;
  }
  if (n < 16384) {
    buf[at] = 0x40 | (n >> 8);
    buf[at + 1] = n & 0xff;
    return 2;
  }
  buf[at] = 0x80;
  buf.writeUInt32BE(n, at + 1);
  return 5;
}

/** Writes `n` listpack entries for v, v-1, ...; returns where it stopped. Each entry ends with its length. */
function writeEntries(buf: Buffer, at: number, v: number, n: number): number {
  const last = v - n + 1;
  while (v >= last) {
    if (v >= 0 && v <= 127) {
      buf[at] = v;
      buf[at + 1] = 1;
      at += 2;
    } else if (v >= -4096 && v <= 4095) {
      const u = v < 0 ? 8192 + v : v;
      buf[at] = 0xc0 | (u >> 8);
      buf[at + 1] = u & 0xff;
      buf[at + 2] = 2;
      at += 3;
    } else if (v >= -32768 && v <= 32767) {
      buf[at] = 0xf1;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = 3;
      at += 4;
    } else if (v >= -8388608 && v <= 8388607) {
      buf[at] = 0xf2;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = (v >> 16) & 0xff;
      buf[at + 4] = 4;
      at += 5;
    } else {
      buf[at] = 0xf3;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = (v >> 16) & 0xff;
      buf[at + 4] = (v >>> 24) & 0xff;
      buf[at + 5] = 5;
      at += 6;
    }
    v--;
  }
  return at;
}

/**
 * The DUMP payload of a list whose head is `head` and whose values go down by one to `tail`
 * (head >= tail), as a list of 1..n loaded newest first holds them. Integers within 32 bits. Written into
 * `into` when it is large enough (the result is then a view of it), else into a new buffer.
 */
export function descendingListPayload(head: number, tail: number, into?: Buffer): Buffer {
  if (!Number.isInteger(head) || !Number.isInteger(tail) || head < tail) {
    throw new RangeError(`not a descending range: ${head}..${tail}`);
  }
  if (head > 2_147_483_647 || tail < -2_147_483_648) throw new RangeError('values must fit in 32 bits');
  const { counts, bytes } = planNodes(head, tail);
  let total = 1 + lengthSize(counts.length) + 2 + 8;
  for (const b of bytes) total += 1 + lengthSize(b) + b;
  // Writing into a reused buffer saves the page faults of a fresh multi-megabyte allocation, which cost
  // more than building the payload itself.
  const buf = into && into.length >= total ? into.subarray(0, total) : Buffer.allocUnsafe(total);

  let at = 0;
  buf[at++] = RDB_TYPE_LIST_QUICKLIST_2;
  at += writeLength(buf, at, counts.length);
  let v = head;
  for (let node = 0; node < counts.length; node++) {
    const n = counts[node] ?? 0;
    const size = bytes[node] ?? 0;
    buf[at++] = CONTAINER_PACKED;
    at += writeLength(buf, at, size);
    buf.writeUInt32LE(size, at);
    buf.writeUInt16LE(Math.min(n, 65535), at + 4);
    at = writeEntries(buf, at + LISTPACK_HEADER, v, n);
    v -= n;
    buf[at++] = LISTPACK_END;
  }
  buf.writeUInt16LE(RDB_VERSION, at);
  at += 2;
  const [hi, lo] = crc64(buf, 0, at);
  buf.writeUInt32LE(lo, at);
  buf.writeUInt32LE(hi, at + 4);
  return buf;
}

// ---------------------------------------------------------------------------------------------------
// Reading a payload (the export decodes DUMP output instead of paging with LRANGE).

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

class Reader {
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

/** One value of a list: an integer, or the bytes of a string. */
export type ListValue = number | Buffer;

/** Calls `visit` with each listpack entry in order. */
function readListpack(lp: Buffer, visit: (value: ListValue) => void): void {
  let at = LISTPACK_HEADER;
  const end = lp.length - 1;
  while (at < end) {
    const b = lp[at] ?? 0;
    let size: number;
    if (b < 0x80) {
      visit(b);
      size = 1;
    } else if (b < 0xc0) {
      const len = b & 0x3f;
      visit(lp.subarray(at + 1, at + 1 + len));
      size = 1 + len;
    } else if (b < 0xe0) {
      const u = ((b & 0x1f) << 8) | (lp[at + 1] ?? 0);
      visit(u >= 4096 ? u - 8192 : u);
      size = 2;
    } else if (b < 0xf0) {
      const len = ((b & 0x0f) << 8) | (lp[at + 1] ?? 0);
      visit(lp.subarray(at + 2, at + 2 + len));
      size = 2 + len;
    } else {
      switch (b) {
        case 0xf1:
          visit(lp.readInt16LE(at + 1));
          size = 3;
          break;
        case 0xf2:
          visit(lp.readIntLE(at + 1, 3));
          size = 4;
          break;
        case 0xf3:
          visit(lp.readInt32LE(at + 1));
          size = 5;
          break;
        case 0xf4:
          visit(Number(lp.readBigInt64LE(at + 1)));
          size = 9;
          break;
        case 0xf0: {
          const len = lp.readUInt32LE(at + 1);
          visit(lp.subarray(at + 5, at + 5 + len));
          size = 5 + len;
          break;
        }
        default:
          throw new PayloadError(`unknown listpack entry ${b}`);
      }
    }
    // Skip the back-length: one byte per 7 bits of the entry's size.
    at += size + (size < 128 ? 1 : size < 16384 ? 2 : size < 2097152 ? 3 : size < 268435456 ? 4 : 5);
  }
}

/**
 * Reads the values of a list from its DUMP payload, head first, calling `visit` for each listpack node's
 * values in order. The checksum is not verified: the payload comes straight from the server.
 */
export function readListPayload(payload: Buffer, visit: (value: ListValue) => void): void {
  const r = new Reader(payload);
  const type = r.byte();
  if (type !== RDB_TYPE_LIST_QUICKLIST_2)
    throw new PayloadError(`not a quicklist list payload (type ${type})`);
  const nodes = r.length();
  for (let i = 0; i < nodes; i++) {
    const container = r.length();
    const data = r.string();
    if (container === CONTAINER_PLAIN) visit(data);
    else if (container === CONTAINER_PACKED) readListpack(data, visit);
    else throw new PayloadError(`unknown quicklist container ${container}`);
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
      if (b < 0x80) {
        into[n++] = b;
        at += 2;
      } else if (b >= 0xc0 && b < 0xe0) {
        const u = ((b & 0x1f) << 8) | (lp[at + 1] ?? 0);
        into[n++] = u >= 4096 ? u - 8192 : u;
        at += 3;
      } else if (b === 0xf1) {
        into[n++] = lp.readInt16LE(at + 1);
        at += 4;
      } else if (b === 0xf2) {
        const u = (lp[at + 1] ?? 0) | ((lp[at + 2] ?? 0) << 8) | ((lp[at + 3] ?? 0) << 16);
        into[n++] = u >= 0x800000 ? u - 0x1000000 : u;
        at += 5;
      } else if (b === 0xf3) {
        into[n++] = lp.readInt32LE(at + 1);
        at += 6;
      } else {
        throw new PayloadError(`not a 32-bit integer entry (${b})`);
      }
    }
  }
  return n;
}

// "00" to "99", for writing two digits at a time.
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

/**
 * Writes `values[from, to)` (in reverse when asked) as decimal lines ("123\n") into `out` and returns the
 * number of bytes written; `out` needs 12 bytes per value.
 */
export function writeDecimalLines(
  values: Int32Array,
  from: number,
  to: number,
  reverse: boolean,
  out: Buffer,
): number {
  let at = 0;
  for (let k = from; k < to; k++) {
    let v = values[reverse ? to - 1 - (k - from) : k] ?? 0;
    if (v < 0) {
      out[at++] = 45;
      v = -v;
    }
    const len =
      v < 10
        ? 1
        : v < 100
          ? 2
          : v < 1e3
            ? 3
            : v < 1e4
              ? 4
              : v < 1e5
                ? 5
                : v < 1e6
                  ? 6
                  : v < 1e7
                    ? 7
                    : v < 1e8
                      ? 8
                      : v < 1e9
                        ? 9
                        : 10;
    let pos = at + len;
    out[pos] = 10;
    while (v >= 100) {
      const q = Math.floor(v / 100);
      const pair = (v - q * 100) * 2;
      out[--pos] = PAIRS[pair + 1] ?? 48;
      out[--pos] = PAIRS[pair] ?? 48;
      v = q;
    }
    // What is left is the first one or two digits, at `at`.
    if (v >= 10) {
      out[at + 1] = PAIRS[v * 2 + 1] ?? 48;
      out[at] = PAIRS[v * 2] ?? 48;
    } else {
      out[at] = 48 + v;
    }
    at += len + 1;
  }
  return at;
}
