// IPv4 header: length fields checked against each other and the capture, fragments noted,
// then the transport header of first fragments decoded.

import { DecodeError, L3, type PacketInfo } from './packet.js';
import { decodeTransport } from './transport.js';
import { viewOf } from './view.js';

/**
 * IPv4 at buf[o]; the captured frame ends at end. ipLen is the header's total length even when
 * the capture is shorter (snaplen); the transport decoder sees bytes up to min(end, o + total length).
 * l3 is set to IPv4 only once the header is known good, so an error here leaves l3 = None.
 */
export function decodeIpv4(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 20 > end) { p.error = DecodeError.Truncated; return; }
  const b0 = buf[o];
  if ((b0 >> 4) !== 4) { p.error = DecodeError.BadIpVersion; return; }
  const ihl = (b0 & 0x0f) << 2;
  if (ihl < 20) { p.error = DecodeError.BadIpHeaderLength; return; }
  if (o + ihl > end) { p.error = DecodeError.Truncated; return; }
  const v = viewOf(buf);
  const total = v.getUint16(o + 2);
  if (total < ihl) { p.error = DecodeError.BadIpTotalLength; return; }
  p.l3 = L3.IPv4;
  p.l3Offset = o;
  p.ipLen = total;
  p.ttl = buf[o + 8];
  const proto = buf[o + 9];
  p.proto = proto;
  p.src4 = v.getUint32(o + 12);
  p.dst4 = v.getUint32(o + 16);
  p.srcOff = o + 12;
  p.dstOff = o + 16;
  const frag = v.getUint16(o + 6);
  const fragOffset = (frag & 0x1fff) << 3;
  const mf = (frag & 0x2000) !== 0;
  const l4 = o + ihl;
  const ipEnd = o + total;
  const l4End = ipEnd < end ? ipEnd : end;
  if (mf || fragOffset !== 0) {
    p.isFragment = true;
    p.fragOffset = fragOffset;
    p.moreFragments = mf;
    p.fragId = (buf[o + 4] << 8) | buf[o + 5];
    if (fragOffset !== 0) {
      // A later fragment carries no transport header: its bytes are data, not ports.
      p.l4Offset = l4;
      return;
    }
  }
  decodeTransport(buf, l4, l4End, ipEnd, proto, p);
}
