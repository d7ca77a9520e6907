// The parts of the RDB and listpack formats that both the payload writer and the reader use: one place for
// the type and version numbers, the quicklist containers and the listpack integer encodings.

/** RDB type of a list stored as quicklist nodes of listpacks (Redis 7.0+). */
export const RDB_TYPE_LIST_QUICKLIST_2 = 18;
/** The RDB version Redis 7.0 writes; every later server reads it. */
export const RDB_VERSION = 10;
/** A quicklist node holding one large value as is. */
export const CONTAINER_PLAIN = 1;
/** A quicklist node holding a listpack. */
export const CONTAINER_PACKED = 2;
/** A listpack's header: total bytes (4) and entry count (2). */
export const LISTPACK_HEADER = 6;
/** The byte that ends a listpack. */
export const LISTPACK_END = 0xff;

/**
 * The listpack encodings of an integer, smallest first: the range each covers, the bytes of the entry
 * (without its back-length byte) and its first byte's tag. A value takes the first that covers it.
 */
export const INT_ENCODINGS = {
  /** 0..127 in the tag byte itself (0xxxxxxx). */
  uint7: { min: 0, max: 127, size: 1, tag: 0x00 },
  /** 13-bit signed: 110xxxxx and one byte. */
  int13: { min: -4096, max: 4095, size: 2, tag: 0xc0 },
  /** 16-bit signed, little-endian after the tag. */
  int16: { min: -32768, max: 32767, size: 3, tag: 0xf1 },
  /** 24-bit signed, little-endian after the tag. */
  int24: { min: -8388608, max: 8388607, size: 4, tag: 0xf2 },
  /** 32-bit signed, little-endian after the tag. */
  int32: { min: -2147483648, max: 2147483647, size: 5, tag: 0xf3 },
  /** 64-bit signed, little-endian after the tag (read only: this app writes 32-bit values). */
  int64: { size: 9, tag: 0xf4 },
} as const;

/** Bytes of the listpack encoding of integer v (without its back-length byte). */
export function intEntrySize(v: number): number {
  const { uint7, int13, int16, int24 } = INT_ENCODINGS;
  if (v >= uint7.min && v <= uint7.max) return uint7.size;
  if (v >= int13.min && v <= int13.max) return int13.size;
  if (v >= int16.min && v <= int16.max) return int16.size;
  if (v >= int24.min && v <= int24.max) return int24.size;
  return INT_ENCODINGS.int32.size;
}

/** Bytes of an entry's back-length: one per 7 bits of the entry's size. */
export function backLengthSize(size: number): number {
  return size < 128 ? 1 : size < 16384 ? 2 : size < 2097152 ? 3 : size < 268435456 ? 4 : 5;
}
