// The serialized form of a Redis list, as DUMP produces and RESTORE takes it, for lists of integers: the
// writer of the biglist loader's payloads.
//
// A payload is: the RDB type, the encoded value, the RDB version (2 bytes, little-endian) and a CRC-64 of
// everything before it (8 bytes, little-endian). We write type 18 (RDB_TYPE_LIST_QUICKLIST_2: quicklist
// nodes, each a listpack) and RDB version 10, both introduced by Redis 7.0: RESTORE refuses a payload
// whose version is newer than its own, and every server we support (Redis 7.0 and later, and Azure
// Managed Redis, which runs 7.4 on Redis Enterprise) reads version 10 and type 18. Nodes are split exactly
// as Redis 7.0 splits a list built by RPUSH with the default list-max-listpack-size (-2, 8 KB nodes), so
// a restored list is the list Redis would have built, and the payload equals what DUMP returns for it
// with rdbcompression off (a test compares them byte for byte).
import { crc64 } from './crc64.js';
import {
  CONTAINER_PACKED,
  INT_ENCODINGS,
  intEntrySize,
  LISTPACK_END,
  LISTPACK_HEADER,
  RDB_TYPE_LIST_QUICKLIST_2,
  RDB_VERSION,
} from './format.js';

// list-max-listpack-size -2: a node holds at most 8 KB; Redis estimates each insert as the node's size,
// the value's length as a string and 8 bytes of overhead.
const NODE_LIMIT = 8192;
const INSERT_OVERHEAD = 8;
const { uint7, int13, int16, int24, int32 } = INT_ENCODINGS;

/** An upper bound of the payload size for `count` values (at most 6 bytes each, plus node overhead). */
export function payloadBound(count: number): number {
  return count * 6 + Math.ceil(count / 1000) * 8 + 32;
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
    if (v >= uint7.min && v <= uint7.max) {
      buf[at] = v;
      buf[at + 1] = uint7.size;
      at += 2;
    } else if (v >= int13.min && v <= int13.max) {
      const u = v < 0 ? 8192 + v : v;
      buf[at] = int13.tag | (u >> 8);
      buf[at + 1] = u & 0xff;
      buf[at + 2] = int13.size;
      at += 3;
    } else if (v >= int16.min && v <= int16.max) {
      buf[at] = int16.tag;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = int16.size;
      at += 4;
    } else if (v >= int24.min && v <= int24.max) {
      buf[at] = int24.tag;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = (v >> 16) & 0xff;
      buf[at + 4] = int24.size;
      at += 5;
    } else {
      buf[at] = int32.tag;
      buf[at + 1] = v & 0xff;
      buf[at + 2] = (v >> 8) & 0xff;
      buf[at + 3] = (v >> 16) & 0xff;
      buf[at + 4] = (v >>> 24) & 0xff;
      buf[at + 5] = int32.size;
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
  if (head > int32.max || tail < int32.min) throw new RangeError('values must fit in 32 bits');
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
