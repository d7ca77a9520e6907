// A general reader of list payloads (integers and strings, listpack and plain nodes), for the tests: they
// check that what the app writes, or what Redis dumps, holds the values they expect. The app itself reads
// only lists of integers (shared/redis/rdb/listReader.ts).
import {
  backLengthSize,
  CONTAINER_PACKED,
  CONTAINER_PLAIN,
  INT_ENCODINGS,
  LISTPACK_HEADER,
  RDB_TYPE_LIST_QUICKLIST_2,
} from '../../shared/redis/rdb/format.js';
import { PayloadError, Reader } from '../../shared/redis/rdb/listReader.js';

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
        case INT_ENCODINGS.int16.tag:
          visit(lp.readInt16LE(at + 1));
          size = INT_ENCODINGS.int16.size;
          break;
        case INT_ENCODINGS.int24.tag:
          visit(lp.readIntLE(at + 1, 3));
          size = INT_ENCODINGS.int24.size;
          break;
        case INT_ENCODINGS.int32.tag:
          visit(lp.readInt32LE(at + 1));
          size = INT_ENCODINGS.int32.size;
          break;
        case INT_ENCODINGS.int64.tag:
          visit(Number(lp.readBigInt64LE(at + 1)));
          size = INT_ENCODINGS.int64.size;
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
    at += size + backLengthSize(size);
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
