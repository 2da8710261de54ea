// The hot-path entry: one captured frame -> the reused PacketInfo, by link type.
// Never throws and allocates nothing; a malformed frame leaves p.error set.

import {
  DecodeError, type PacketInfo,
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2, LINKTYPE_RAW_BSD_12, LINKTYPE_RAW_BSD_14, LINKTYPE_NULL, LINKTYPE_LOOP, LINKTYPE_NFLOG,
} from './packet.js';
import { decodeEthernet, decodeSll, decodeSll2, decodeRawIp, decodeLoopback, decodeNflog } from './link.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';

/**
 * Decode the frame buf[offset, offset + caplen) into p (p.reset() first).
 * @param ts ms since epoch; @param wirelen bytes on the wire; @param linkType LINKTYPE_*.
 * Link types: Ethernet (1), SLL (113), SLL2 (276), raw IP (101, 12, 14), IPv4 (228), IPv6 (229),
 * BSD loopback (0, 108), NFLOG (239); anything else is DecodeError.BadLinkType. A caplen running
 * past the buffer is clamped to it; a negative offset/caplen or an offset past the buffer is BadCaptureLength.
 */
export function decodeFrame(buf: Buffer, offset: number, caplen: number, wirelen: number, ts: number, linkType: number, p: PacketInfo): void {
  p.ts = ts;
  decodeStampedFrame(buf, offset, caplen, wirelen, linkType, p);
}

/**
 * decodeFrame() for a frame whose timestamp is already in p.ts (a capture file read with p as
 * its FrameStamp): the timestamp is not passed, so not boxed, on the way.
 */
export function decodeStampedFrame(buf: Buffer, offset: number, caplen: number, wirelen: number, linkType: number, p: PacketInfo): void {
  p.reset();
  p.buf = buf;
  p.frameOffset = offset;
  p.caplen = caplen;
  p.wirelen = wirelen;
  p.linkType = linkType;
  if (!(offset >= 0 && caplen >= 0 && offset <= buf.length)) { p.error = DecodeError.BadCaptureLength; return; }
  let end = offset + caplen;
  if (end > buf.length) end = buf.length;
  switch (linkType) {
    case LINKTYPE_ETHERNET: decodeEthernet(buf, offset, end, p); break;
    case LINKTYPE_LINUX_SLL: decodeSll(buf, offset, end, p); break;
    case LINKTYPE_LINUX_SLL2: decodeSll2(buf, offset, end, p); break;
    case LINKTYPE_RAW: case LINKTYPE_RAW_BSD_12: case LINKTYPE_RAW_BSD_14: decodeRawIp(buf, offset, end, p); break;
    case LINKTYPE_IPV4: p.etherType = 0x0800; decodeIpv4(buf, offset, end, p); break;
    case LINKTYPE_IPV6: p.etherType = 0x86dd; decodeIpv6(buf, offset, end, p); break;
    case LINKTYPE_NULL: decodeLoopback(buf, offset, end, false, p); break;
    case LINKTYPE_LOOP: decodeLoopback(buf, offset, end, true, p); break;
    case LINKTYPE_NFLOG: decodeNflog(buf, offset, end, p); break;
    default: p.error = DecodeError.BadLinkType;
  }
}
