// A PacketInfo filled the way decodeFrame would (IPv4 in src4/dst4, IPv6 bytes in buf at
// srcOff/dstOff), for the flow table's tests.

import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { parseIp4, parseIp6 } from '../../../collector/decode/addr.js';

export interface Pkt {
  src: string; dst: string; sport?: number; dport?: number; proto?: number; flags?: number;
  len?: number; ts: number; vlan?: number; srcMac?: number; dstMac?: number; icmpType?: number;
  frag?: { id: number; offset: number; more: boolean };
}

export function fill(p: PacketInfo, k: Pkt): PacketInfo {
  p.reset();
  p.ts = k.ts;
  p.srcMac = k.srcMac ?? 0x020000000001;
  p.dstMac = k.dstMac ?? 0x020000000002;
  p.vlan = k.vlan ?? 0;
  const s4 = parseIp4(k.src);
  if (s4 >= 0) {
    p.l3 = L3.IPv4; p.src4 = s4; p.dst4 = parseIp4(k.dst);
    p.buf = Buffer.alloc(64); p.srcOff = 26; p.dstOff = 30;
  } else {
    p.l3 = L3.IPv6;
    const buf = Buffer.alloc(128);
    // at an odd offset so a reader that assumes alignment would fail
    buf.set(parseIp6(k.src)!, 23); buf.set(parseIp6(k.dst)!, 39);
    p.buf = buf; p.srcOff = 23; p.dstOff = 39;
  }
  p.proto = k.proto ?? 6;
  p.ipLen = k.len ?? 60;
  if (k.frag) {
    p.isFragment = true; p.fragId = k.frag.id; p.fragOffset = k.frag.offset; p.moreFragments = k.frag.more;
  }
  if (!k.frag || k.frag.offset === 0) {
    p.hasL4 = true; p.sport = k.sport ?? 0; p.dport = k.dport ?? 0; p.tcpFlags = k.flags ?? 0; p.icmpType = k.icmpType ?? 0;
  }
  return p;
}
