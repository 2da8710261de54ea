// MAC addresses as 48-bit numbers, read in place: no string per packet.

import { viewOf } from './view.js';

/** 48-bit MAC at buf[o] as a number (exact: < 2^53). The caller has checked o + 6 <= end. */
export function readMac(buf: Uint8Array, o: number): number {
  const v = viewOf(buf);
  return v.getUint16(o) * 4294967296 + v.getUint32(o + 2);
}
