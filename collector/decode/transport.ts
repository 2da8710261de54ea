// Transport headers: TCP, UDP, ICMP and ICMPv6, with the application payload clamped to
// what was captured and to the IP length.

import { DecodeError, type PacketInfo } from './packet.js';
import { viewOf } from './view.js';

/**
 * Transport header at buf[o]. end = min(captured end, IP end); ipEnd = where the IP length says
 * the packet ends (may lie past the capture). Sets hasL4 when the ports were captured (for TCP
 * even when the rest of its header was not, with Truncated or BadTcpHeaderLength set);
 * a UDP length that disagrees with the IP length keeps the ports (hasL4) and sets BadUdpLength.
 * A first fragment (p.moreFragments) whose header continues in the next fragment is Truncated.
 * Other protocols: hasL4 false, payload = everything after the IP header(s).
 */
export function decodeTransport(buf: Buffer, o: number, end: number, ipEnd: number, proto: number, p: PacketInfo): void {
  p.l4Offset = o;
  if (proto === 6) {
    if (o + 20 > end || ((buf[o + 12] >> 4) << 2) < 20) {
      // A header cut short (snaplen, a tiny first fragment) or with a bogus data offset still
      // names its ports in its first four bytes: the packet belongs to that conversation, as
      // tshark and the flow exporters count it. Flags only when their byte was captured.
      if (o + 4 <= end) {
        p.sport = (buf[o] << 8) | buf[o + 1];
        p.dport = (buf[o + 2] << 8) | buf[o + 3];
        if (o + 14 <= end) p.tcpFlags = buf[o + 13];
        p.hasL4 = true;
      }
      // A first fragment split inside the TCP header is legal (if suspicious): not an error.
      if (!(p.moreFragments && o + 20 > end && o + 4 <= end)) {
        p.error = o + 20 > end ? DecodeError.Truncated : DecodeError.BadTcpHeaderLength;
      }
      return;
    }
    const doff = (buf[o + 12] >> 4) << 2;
    // In a first fragment the options may continue in the next fragment: that is truncation.
    if (o + doff > ipEnd && !p.moreFragments) { p.error = DecodeError.BadTcpHeaderLength; return; }
    const v = viewOf(buf);
    const ports = v.getUint32(o);
    p.sport = ports >>> 16;
    p.dport = ports & 0xffff;
    p.tcpSeq = v.getUint32(o + 4);
    p.tcpFlags = buf[o + 13];
    p.hasL4 = true;
    // Options cut off by the snaplen or continued in the next fragment: ports and flags stand.
    if (o + doff > end) {
      if (!p.moreFragments) p.error = DecodeError.Truncated;
      p.payloadOffset = end;
      return;
    }
    p.payloadOffset = o + doff;
    p.payloadLength = end - o - doff;
  } else if (proto === 17) {
    if (o + 8 > end) { p.error = DecodeError.Truncated; return; }
    const v = viewOf(buf);
    const ports = v.getUint32(o);
    p.sport = ports >>> 16;
    p.dport = ports & 0xffff;
    p.hasL4 = true;
    const ulen = v.getUint16(o + 4);
    p.payloadOffset = o + 8;
    // A first fragment's UDP length covers the whole datagram, not this fragment.
    if (ulen < 8 || (o + ulen > ipEnd && !p.moreFragments)) {
      p.error = DecodeError.BadUdpLength;
      p.payloadLength = 0;
      return;
    }
    const uEnd = o + ulen < end ? o + ulen : end;
    p.payloadLength = uEnd - o - 8;
  } else if (proto === 1 || proto === 58) {
    if (o + 2 <= end) { p.icmpType = buf[o]; p.icmpCode = buf[o + 1]; }
    if (o + 8 > end) { p.error = DecodeError.Truncated; return; }
    p.hasL4 = true;
    p.payloadOffset = o + 8;
    p.payloadLength = end - o - 8;
  } else {
    p.payloadOffset = o;
    p.payloadLength = end > o ? end - o : 0;
  }
}
