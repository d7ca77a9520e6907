// Redis's CRC-64 (the "Jones" variant): reflected polynomial 0x95ac9329ac4bc9b5, initial value 0, no final
// xor; the checksum at the end of every DUMP payload. No maintained npm package implements it, so it lives
// here, tested against the variant's published check value. Slicing by 8 over two 32-bit halves, since
// JavaScript has no fast 64-bit integers.

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
