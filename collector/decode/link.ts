// Link layers: Ethernet (with up to four 802.1Q/802.1ad/QinQ tags), Linux cooked SLL and
// SLL2, BSD loopback, and the raw-IP link types. Each reads in place and hands the L3 offset on.

import { DecodeError, L3, type PacketInfo } from './packet.js';
import { decodeArp } from './arp.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { readEthernetMacs, readMac } from './mac.js';
import { viewOf } from './view.js';
import { ETHERTYPE_LLDP } from './lldp.js';

export { readMac };

/** At most this many VLAN tags are followed; one more is DecodeError.TooManyTags. */
export const MAX_VLAN_TAGS = 4;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;
const ETH_RARP = 0x8035;
const ETH_8021Q = 0x8100;
const ETH_8021AD = 0x88a8;
const ETH_QINQ_OLD = 0x9100;

/** Ethernet II from buf[o], frame ends at end (exclusive). */
export function decodeEthernet(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 14 > end) { p.error = DecodeError.Truncated; return; }
  readEthernetMacs(buf, o, p);
  followTags(buf, o + 14, end, viewOf(buf).getUint16(o + 12), p);
}

/**
 * Hands the L3 header at buf[o] to its decoder by EtherType; other EtherTypes are L3.None, not
 * errors. LLDP stays L3.None with l3Offset at its LLDPDU, for the app layer's MUD URL reader.
 */
export function dispatchEtherType(buf: Buffer, o: number, end: number, et: number, p: PacketInfo): void {
  p.etherType = et;
  if (et === ETH_IPV4) decodeIpv4(buf, o, end, p);
  else if (et === ETH_IPV6) decodeIpv6(buf, o, end, p);
  // RARP has ARP's layout (ops 3/4) and binds a MAC to an address the same way.
  else if (et === ETH_ARP || et === ETH_RARP) decodeArp(buf, o, end, p);
  else if (et === ETHERTYPE_LLDP) p.l3Offset = o;
}

/**
 * Linux cooked v1 (16 bytes): packet type, ARPHRD, address length, 8 address bytes, protocol.
 * The address is the sender's; with ARPHRD_ETHER and length 6 it is the source MAC.
 */
export function decodeSll(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 16 > end) { p.error = DecodeError.Truncated; return; }
  const hatype = (buf[o + 2] << 8) | buf[o + 3];
  const alen = (buf[o + 4] << 8) | buf[o + 5];
  if ((hatype === 1 || hatype === 772) && alen === 6) p.srcMac = readMac(buf, o + 6);
  followTags(buf, o + 16, end, (buf[o + 14] << 8) | buf[o + 15], p);
}

/** Linux cooked v2 (20 bytes): protocol, reserved, ifindex, ARPHRD, packet type, address length, address. */
export function decodeSll2(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 20 > end) { p.error = DecodeError.Truncated; return; }
  const hatype = (buf[o + 8] << 8) | buf[o + 9];
  if ((hatype === 1 || hatype === 772) && buf[o + 11] === 6) p.srcMac = readMac(buf, o + 12);
  followTags(buf, o + 20, end, (buf[o + 0] << 8) | buf[o + 1], p);
}

// VLAN tags from buf[o] (et = the EtherType before them), then the L3 header. Cooked captures
// carry tags here too when the kernel did not strip them.
function followTags(buf: Buffer, o: number, end: number, et: number, p: PacketInfo): void {
  while (et === ETH_8021Q || et === ETH_8021AD || et === ETH_QINQ_OLD) {
    if (p.vlanTags === MAX_VLAN_TAGS) { p.etherType = et; p.error = DecodeError.TooManyTags; return; }
    if (o + 4 > end) { p.etherType = et; p.error = DecodeError.Truncated; return; }
    const id = ((buf[o] & 0x0f) << 8) | buf[o + 1];
    if (p.vlanTags === 0) p.vlan = id;
    else if (p.vlanTags === 1) p.vlanInner = id;
    p.vlanTags++;
    et = (buf[o + 2] << 8) | buf[o + 3];
    o += 4;
  }
  dispatchEtherType(buf, o, end, et, p);
}

/** Raw IP: the version nibble picks IPv4 or IPv6. */
export function decodeRawIp(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o >= end) { p.error = DecodeError.Truncated; return; }
  const v = buf[o] >> 4;
  if (v === 4) { p.etherType = ETH_IPV4; decodeIpv4(buf, o, end, p); }
  else if (v === 6) { p.etherType = ETH_IPV6; decodeIpv6(buf, o, end, p); }
  else p.error = DecodeError.BadIpVersion;
}

/**
 * BSD loopback (DLT_NULL, host byte order) and OpenBSD DLT_LOOP (network order): a 4-byte
 * address family, AF_INET = 2, AF_INET6 = 24, 28 or 30 depending on the BSD (10 on Linux).
 */
export function decodeLoopback(buf: Buffer, o: number, end: number, bigEndian: boolean, p: PacketInfo): void {
  if (o + 4 > end) { p.error = DecodeError.Truncated; return; }
  const le = (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0;
  const be = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
  // DLT_NULL is in the writer's byte order, which the file does not record: a family fits a byte.
  const af = bigEndian ? be : (le < 256 ? le : be);
  o += 4;
  if (af === 2) { p.etherType = ETH_IPV4; decodeIpv4(buf, o, end, p); }
  else if (af === 24 || af === 28 || af === 30 || af === 10) { p.etherType = ETH_IPV6; decodeIpv6(buf, o, end, p); }
  else p.l3 = L3.None;
}

/**
 * Linux NFLOG (239): family, version, resource id, then TLVs (length and type little-endian,
 * length includes the 4-byte TLV header, padded to 4). The packet is TLV type 9 (NFULA_PAYLOAD).
 */
export function decodeNflog(buf: Buffer, o: number, end: number, p: PacketInfo): void {
  if (o + 4 > end) { p.error = DecodeError.Truncated; return; }
  const family = buf[o];
  let t = o + 4;
  // Each TLV is at least 4 bytes, so the walk ends within (end - o) / 4 steps.
  while (t + 4 <= end) {
    const len = buf[t] | (buf[t + 1] << 8);
    const type = buf[t + 2] | (buf[t + 3] << 8);
    if (len < 4) { p.error = DecodeError.Truncated; return; }
    if (type === 9) {
      const pe = t + len < end ? t + len : end;
      if (family === 2) { p.etherType = ETH_IPV4; decodeIpv4(buf, t + 4, pe, p); }
      else if (family === 10) { p.etherType = ETH_IPV6; decodeIpv6(buf, t + 4, pe, p); }
      return;
    }
    t += (len + 3) & ~3;
  }
}
