// MAC addresses as 48-bit numbers, read in place: no string per packet.

import { viewOf } from './view.js';

/** 48-bit MAC at buf[o] as a number (exact: < 2^53). The caller has checked o + 6 <= end. */
export function readMac(buf: Uint8Array, o: number): number {
  return macAt(viewOf(buf), o);
}

/**
 * An Ethernet header's destination and source MACs (at buf[o] and buf[o + 6]) into p, written
 * in place: a 48-bit number returned from a call that is not inlined is a heap number, and
 * readMac() twice a frame was most of what decoding allocated.
 */
export function readEthernetMacs(buf: Uint8Array, o: number, p: { dstMac: number; srcMac: number }): void {
  const v = viewOf(buf);
  p.dstMac = macAt(v, o);
  p.srcMac = macAt(v, o + 6);
}

function macAt(v: DataView, o: number): number {
  return v.getUint16(o) * 4294967296 + v.getUint32(o + 2);
}
