// IPv6 header and its extension-header chain (bounded), fragment header noted, then the
// transport header of first fragments decoded.

import { DecodeError, L3, type PacketInfo } from './packet.js';
import { decodeTransport } from './transport.js';

/** Extension headers followed before DecodeError.TooManyExtHeaders. */
export const MAX_IPV6_EXT_HEADERS = 8;

/**
 * IPv6 at buf[o]; the captured frame ends at end. ipLen = payload length + 40 from the header.
 * Extension headers: hop-by-hop (0), routing (43), fragment (44), destination options (60),
 * mobility (135), AH (51); no-next-header (59) ends the chain with no transport header.
 * An extension header running past the payload length is BadIpv6ExtHeader, past the capture Truncated;
 * either way the fixed-header fields stay valid (l3 = IPv6) and p.proto is the header that failed.
 */
export function decodeIpv6(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 40 > end) { p.error = DecodeError.Truncated; return; }
  if ((buf[o] >> 4) !== 6) { p.error = DecodeError.BadIpVersion; return; }
  const plen = (buf[o + 4] << 8) | buf[o + 5];
  p.l3 = L3.IPv6;
  p.l3Offset = o;
  p.ipLen = plen + 40;
  p.ttl = buf[o + 7];
  p.srcOff = o + 8;
  p.dstOff = o + 24;
  const ipEnd = o + 40 + plen;
  const l3End = ipEnd < end ? ipEnd : end;
  let nh = buf[o + 6];
  let cur = o + 40;
  let count = 0;
  while (nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 135 || nh === 51) {
    p.proto = nh;
    if (++count > MAX_IPV6_EXT_HEADERS) { p.error = DecodeError.TooManyExtHeaders; return; }
    const fixed = nh === 44 ? 8 : 2;
    if (cur + fixed > ipEnd) { p.error = DecodeError.BadIpv6ExtHeader; return; }
    if (cur + fixed > end) { p.error = DecodeError.Truncated; return; }
    let len: number;
    if (nh === 44) {
      len = 8;
      const f = (buf[cur + 2] << 8) | buf[cur + 3];
      const fragOffset = f & 0xfff8;
      const mf = (f & 1) !== 0;
      // An atomic fragment (offset 0, no more fragments, RFC 6946) is a whole packet.
      if (fragOffset !== 0 || mf) {
        p.isFragment = true;
        p.fragOffset = fragOffset;
        p.moreFragments = mf;
        p.fragId = ((buf[cur + 4] << 24) | (buf[cur + 5] << 16) | (buf[cur + 6] << 8) | buf[cur + 7]) >>> 0;
      }
    } else if (nh === 51) {
      len = (buf[cur + 1] + 2) << 2;
    } else {
      len = (buf[cur + 1] + 1) << 3;
    }
    nh = buf[cur];
    if (cur + len > ipEnd) { p.error = DecodeError.BadIpv6ExtHeader; return; }
    cur += len;
    if (p.fragOffset !== 0) {
      // A later fragment: what follows is data, not a transport header.
      p.proto = nh;
      p.l4Offset = cur;
      return;
    }
  }
  p.proto = nh;
  if (nh === 59) { p.l4Offset = cur; return; }
  decodeTransport(buf, cur, l3End, ipEnd, nh, p);
}
