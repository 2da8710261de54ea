// ARP for Ethernet/IPv4 (htype 1, ptype 0x0800, 6-byte MACs, 4-byte addresses): the only
// ARP that binds a MAC to an IPv4 address, which is what inventory and spoof detection need.

import { DecodeError, L3, type PacketInfo } from './packet.js';
import { readMac } from './mac.js';

/** ARP body is 28 bytes for Ethernet/IPv4. */
export const ARP_LEN = 28;

/** ARP at buf[o]. Any other hardware/protocol size is DecodeError.BadArp; fewer than 28 captured bytes is Truncated. */
export function decodeArp(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 8 > end) { p.error = DecodeError.Truncated; return; }
  const htype = (buf[o] << 8) | buf[o + 1];
  const ptype = (buf[o + 2] << 8) | buf[o + 3];
  if (htype !== 1 || ptype !== 0x0800 || buf[o + 4] !== 6 || buf[o + 5] !== 4) { p.error = DecodeError.BadArp; return; }
  if (o + ARP_LEN > end) { p.error = DecodeError.Truncated; return; }
  p.l3 = L3.ARP;
  p.l3Offset = o;
  p.arpOp = (buf[o + 6] << 8) | buf[o + 7];
  p.arpSenderMac = readMac(buf, o + 8);
  p.arpSenderIp = ((buf[o + 14] << 24) | (buf[o + 15] << 16) | (buf[o + 16] << 8) | buf[o + 17]) >>> 0;
  p.arpTargetMac = readMac(buf, o + 18);
  p.arpTargetIp = ((buf[o + 24] << 24) | (buf[o + 25] << 16) | (buf[o + 26] << 8) | buf[o + 27]) >>> 0;
}
