// MAC addresses as 48-bit numbers, read in place: no string per packet.

/** 48-bit MAC at buf[o] as a number (exact: < 2^53). The caller has checked o + 6 <= end. */
export function readMac(buf: Uint8Array, o: number): number {
  return ((buf[o] << 8) | buf[o + 1]) * 4294967296
    + (((buf[o + 2] << 24) | (buf[o + 3] << 16) | (buf[o + 4] << 8) | buf[o + 5]) >>> 0);
}
