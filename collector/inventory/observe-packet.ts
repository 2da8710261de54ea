// Hands one decoded packet to the inventory: picks out ARP, neighbour discovery, DHCP, DNS
// responses and mDNS, runs their decoders and calls the matching observe* method.

import { PacketInfo, L3 } from '../decode/packet.js';
import { NdpInfo, decodeNdp } from '../decode/ndp.js';
import { decodeDhcp } from '../decode/dhcp.js';
import { decodeDns } from '../decode/dns.js';
import { ip4String, ip6String } from '../decode/addr.js';
import { macString } from '../types.js';
import { DnsAnswers } from '../decode/dns-answers.js';
import type { Inventory } from './inventory.js';
import { packetIpWords } from './ip-words.js';

// scratch for DNS responses: observePacket runs on one thread, one packet at a time
const answers = new DnsAnswers();
const client = new Uint32Array(4);

/**
 * Per-packet cost for the common case (TCP, non-discovery UDP) is a few comparisons; the app
 * decoders allocate only for the rare packets inventory learns from. `nd` is a reused scratch.
 */
export function observePacket(inv: Inventory, p: PacketInfo, nd: NdpInfo): void {
  if (p.l3 === L3.ARP) { if (p.error === 0) inv.observeArp(p); return; }
  if ((p.l3 !== L3.IPv4 && p.l3 !== L3.IPv6) || !p.hasL4) return;
  if (p.proto === 58) {
    if (p.icmpType >= 133 && p.icmpType <= 136 && decodeNdp(p.buf, p.payloadOffset, p.payloadLength, p.icmpType, nd)) {
      inv.observeNdp(p, nd);
    }
    return;
  }
  if (p.proto !== 17 || p.payloadLength === 0) return;
  const sp = p.sport, dp = p.dport;
  if ((sp === 67 || sp === 68) && (dp === 67 || dp === 68)) {
    const m = decodeDhcp(p.buf, p.payloadOffset, p.payloadLength);
    if (m) inv.observeDhcp(m, p.ts);
  } else if (sp === 53) {
    if (answers.read(p.buf, p.payloadOffset, p.payloadLength)) {
      inv.observeDnsAnswers(packetIpWords(p, false, client, 0), client, answers, p.ts);
    }
  } else if (sp === 5353 || dp === 5353) {
    const m = decodeDns(p.buf, p.payloadOffset, p.payloadLength);
    if (m) inv.observeMdns(p.l3 === L3.IPv4 ? ip4String(p.src4) : ip6String(p.buf, p.srcOff), macString(p.srcMac), m, p.ts);
  }
}
