// DHCPv4 / BOOTP messages (RFC 2131, 2132): the fixed header and the options inventory uses
// to name devices. Allocates its result; called for DHCP packets (UDP 67/68) only.

import { ip4String } from './addr.js';
import { macString } from '../types.js';
import { asciiText, hexText, wireName } from './names.js';
import { readMac } from './mac.js';

/** BOOTP fixed part (236 bytes) + magic cookie. */
export const DHCP_FIXED = 236;
export const DHCP_MAGIC = 0x63825363;

/** DHCP message types (option 53). */
export const DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPDECLINE = 4, DHCPACK = 5,
  DHCPNAK = 6, DHCPRELEASE = 7, DHCPINFORM = 8;

export interface DhcpMessage {
  /** 1 request (client), 2 reply (server) */
  op: number;
  htype: number;
  xid: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** "aa:bb:..." when htype 1 and hlen 6, else "" */
  chaddr: string;
  /** chaddr as a 48-bit number, -1 when not Ethernet */
  chaddrNum: number;
  /** false for plain BOOTP (no magic cookie): options are then empty */
  cookie: boolean;
  /** option 53, 0 when absent */
  messageType: number;
  /** option 12, printable ASCII (else undefined) */
  hostname?: string;
  /** option 50 */
  requestedIp?: string;
  /** option 54 */
  serverId?: string;
  /** option 60 */
  vendorClass?: string;
  /** option 55 */
  paramList?: number[];
  /** option 61, hex bytes joined with ":" (type byte first) */
  clientId?: string;
  /** option 81 domain name (wire or ASCII encoding), lower case */
  fqdn?: string;
  /** option 161 (RFC 8520): the device's MUD URL */
  mudUrl?: string;
  /** true when the option list ran past the message or had no END */
  incomplete: boolean;
  /** true when an option inventory reads (161) held no printable text: it was skipped */
  badOption?: boolean;
}

/**
 * The DHCP message at buf[off, off + len) (UDP payload). null when shorter than the BOOTP header.
 * Options are walked once, bounded by len; option overload (52) is not followed. Never throws.
 */
export function decodeDhcp(buf: Uint8Array, off: number, len: number): DhcpMessage | null {
  if (!(off >= 0 && len >= DHCP_FIXED)) return null;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (off + DHCP_FIXED > end) return null;
  const u32 = (o: number) => ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
  const eth = buf[off + 1] === 1 && buf[off + 2] === 6;
  const mac = eth ? readMac(buf, off + 28) : -1;
  const m: DhcpMessage = {
    op: buf[off],
    htype: buf[off + 1],
    xid: u32(off + 4),
    ciaddr: ip4String(u32(off + 12)),
    yiaddr: ip4String(u32(off + 16)),
    siaddr: ip4String(u32(off + 20)),
    giaddr: ip4String(u32(off + 24)),
    chaddr: eth ? macString(mac) : '',
    chaddrNum: mac,
    cookie: false,
    messageType: 0,
    incomplete: false,
  };
  let o = off + DHCP_FIXED;
  if (o + 4 > end || u32(o) !== DHCP_MAGIC) return m;
  m.cookie = true;
  o += 4;
  for (;;) {
    if (o >= end) { m.incomplete = true; break; }
    const code = buf[o];
    if (code === 255) break;
    if (code === 0) { o++; continue; }
    if (o + 2 > end) { m.incomplete = true; break; }
    const l = buf[o + 1];
    const v = o + 2;
    if (v + l > end) { m.incomplete = true; break; }
    switch (code) {
      case 53: if (l >= 1) m.messageType = buf[v]; break;
      case 12: { const s = asciiText(buf, v, v + l); if (s) m.hostname = s; break; }
      case 50: if (l === 4) m.requestedIp = ip4String(u32(v)); break;
      case 54: if (l === 4) m.serverId = ip4String(u32(v)); break;
      case 60: { const s = asciiText(buf, v, v + l); if (s) m.vendorClass = s; break; }
      case 55: m.paramList = Array.from(buf.subarray(v, v + l)); break;
      case 61: if (l >= 1) m.clientId = hexText(buf, v, v + l, ':'); break;
      case 161: { const s = asciiText(buf, v, v + l); if (s) m.mudUrl = s; else m.badOption = true; break; }
      case 81: if (l >= 3) m.fqdn = fqdnName(buf, v + 3, v + l, (buf[v] & 0x04) !== 0); break;
    }
    o = v + l;
  }
  return m;
}

// Option 81's name: DNS wire labels when the E flag is set (no compression), else ASCII.
function fqdnName(buf: Uint8Array, a: number, b: number, wire: boolean): string | undefined {
  if (!wire) {
    const s = asciiText(buf, a, b);
    return s ? s.toLowerCase().replace(/\.$/, '') : undefined;
  }
  return wireName(buf, a, b);
}
