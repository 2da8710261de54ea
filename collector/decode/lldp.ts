// LLDP (IEEE 802.1AB, EtherType 0x88cc): the MUD URL TLV of RFC 8520 section 13 (an
// organizationally specific TLV, OUI 00:00:5E, subtype 1). Called for LLDP frames only: the
// rest of the hot path never pays for it. Reads in place; allocates only the URL string.

import { asciiText } from './names.js';

export const ETHERTYPE_LLDP = 0x88cc;

const TLV_END = 0, TLV_ORG = 127;

export interface LldpInfo {
  /** the MUD URL TLV's text when printable ASCII */
  mudUrl?: string;
  /** a TLV ran past the frame, the LLDPDU had no End TLV, or the MUD TLV was empty or not printable */
  malformed: boolean;
}

/**
 * The LLDPDU at buf[off, end) (after the Ethernet header and VLAN tags). TLV headers are 16 bits:
 * 7 bits type, 9 bits length. Each TLV is at least 2 bytes, so the walk ends. Never throws.
 */
export function decodeLldp(buf: Uint8Array, off: number, end: number): LldpInfo {
  const info: LldpInfo = { malformed: false };
  if (end > buf.length) end = buf.length;
  let o = off < 0 ? end : off;
  for (;;) {
    // frames shorter than the Ethernet minimum are padded, so a missing End TLV is only noted
    if (o + 2 > end) { info.malformed = true; return info; }
    const type = buf[o] >> 1;
    const l = ((buf[o] & 1) << 8) | buf[o + 1];
    const v = o + 2;
    if (type === TLV_END) return info;
    if (v + l > end) { info.malformed = true; return info; }
    if (type === TLV_ORG && l >= 4 && buf[v] === 0x00 && buf[v + 1] === 0x00 && buf[v + 2] === 0x5e && buf[v + 3] === 0x01) {
      const s = l > 4 ? asciiText(buf, v + 4, v + l) : null;
      if (s) info.mudUrl = s; else info.malformed = true;
    }
    o = v + l;
  }
}
