// DHCPv6 client messages (RFC 8415): who sent them (client link-layer address) and the options
// inventory uses: the MUD URL (option 112, RFC 8520) and the client FQDN (39). Relay-forward
// messages are unwrapped (option 9) so a relayed client is seen too. Reads in place; allocates
// its result and the option strings, and is called for DHCPv6 packets (UDP 546/547) only.

import { asciiText, wireName } from './names.js';
import { readMac } from './mac.js';

export const DHCP6_SOLICIT = 1, DHCP6_REQUEST = 3, DHCP6_CONFIRM = 4, DHCP6_RENEW = 5, DHCP6_REBIND = 6,
  DHCP6_RELEASE = 8, DHCP6_DECLINE = 9, DHCP6_INFORMATION_REQUEST = 11, DHCP6_RELAY_FORW = 12, DHCP6_RELAY_REPL = 13;

const OPT_CLIENTID = 1, OPT_RELAY_MSG = 9, OPT_CLIENT_FQDN = 39, OPT_CLIENT_LINKLAYER = 79, OPT_MUD_URL = 112;

/** Relay hops followed; RFC 8415 caps a relay chain at 32 (HOP_COUNT_LIMIT), real ones nest once or twice. */
export const DHCP6_MAX_RELAYS = 8;

export interface Dhcp6Message {
  /** the innermost message's type (a client's SOLICIT, REQUEST, ...; 12 never: relays are unwrapped) */
  msgType: number;
  /** transaction id of the innermost message */
  xid: number;
  /** relay-forward hops unwrapped to reach it */
  relays: number;
  /**
   * The client's MAC as a 48-bit number, -1 when not known: a relay's client link-layer address
   * option (79, Ethernet), else the link-layer address in a DUID-LLT or DUID-LL (option 1).
   * For an unrelayed message the frame's sender is better evidence: the caller decides.
   */
  clientMac: number;
  /** where clientMac came from */
  clientMacFrom: 'relay' | 'duid' | '';
  /** option 112 as printable ASCII; undefined when absent or not printable */
  mudUrl?: string;
  /** option 39's name, lower case, no trailing dot */
  fqdn?: string;
  /** an option ran past its message, a relay message was short, or relays nested past the cap */
  malformed: boolean;
}

/**
 * The DHCPv6 message at buf[off, off + len) (UDP payload). null when shorter than a message
 * header (4 bytes) or when it is a server's message (ADVERTISE, REPLY, RECONFIGURE, RELAY-REPL):
 * those name no client by its own word. Never throws; every length is checked against its message.
 */
export function decodeDhcp6(buf: Uint8Array, off: number, len: number): Dhcp6Message | null {
  if (!(off >= 0 && len >= 4)) return null;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  const m: Dhcp6Message = { msgType: 0, xid: 0, relays: 0, clientMac: -1, clientMacFrom: '', malformed: false };
  let relayMac = -1;
  // Each relay-forward is unwrapped to its option 9; the loop ends after DHCP6_MAX_RELAYS hops.
  for (;;) {
    if (off + 4 > end) { m.malformed = true; return m.relays > 0 ? m : null; }
    const type = buf[off];
    if (type !== DHCP6_RELAY_FORW) {
      if (!isClientType(type)) return null;
      m.msgType = type;
      m.xid = (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
      clientOptions(buf, off + 4, end, m);
      break;
    }
    if (m.relays === DHCP6_MAX_RELAYS) { m.malformed = true; return m; }
    m.relays++;
    // msg-type, hop-count, link-address (16), peer-address (16), then options
    let o = off + 34;
    let inner = -1, innerEnd = -1;
    while (o < end) {
      if (o + 4 > end) { m.malformed = true; break; }
      const code = (buf[o] << 8) | buf[o + 1];
      const l = (buf[o + 2] << 8) | buf[o + 3];
      const v = o + 4;
      if (v + l > end) { m.malformed = true; break; }
      if (code === OPT_RELAY_MSG) { inner = v; innerEnd = v + l; }
      // hardware type 1 (Ethernet) + 6 bytes; the closest relay's word is the one kept
      else if (code === OPT_CLIENT_LINKLAYER && l === 8 && buf[v] === 0 && buf[v + 1] === 1) relayMac = readMac(buf, v + 2);
      o = v + l;
    }
    if (inner < 0) { m.malformed = true; return m; }
    off = inner; end = innerEnd;
  }
  if (relayMac >= 0) { m.clientMac = relayMac; m.clientMacFrom = 'relay'; }
  return m;
}

function isClientType(t: number): boolean {
  return t === DHCP6_SOLICIT || t === DHCP6_REQUEST || t === DHCP6_CONFIRM || t === DHCP6_RENEW ||
    t === DHCP6_REBIND || t === DHCP6_RELEASE || t === DHCP6_DECLINE || t === DHCP6_INFORMATION_REQUEST;
}

// Options of a client message at buf[o, end): each is at least 4 bytes, so the walk ends.
function clientOptions(buf: Uint8Array, o: number, end: number, m: Dhcp6Message): void {
  while (o < end) {
    if (o + 4 > end) { m.malformed = true; return; }
    const code = (buf[o] << 8) | buf[o + 1];
    const l = (buf[o + 2] << 8) | buf[o + 3];
    const v = o + 4;
    if (v + l > end) { m.malformed = true; return; }
    if (code === OPT_MUD_URL) {
      const s = l > 0 ? asciiText(buf, v, v + l) : null;
      if (s) m.mudUrl = s; else m.malformed = true;
    } else if (code === OPT_CLIENTID) {
      const mac = duidMac(buf, v, v + l);
      if (mac >= 0) { m.clientMac = mac; m.clientMacFrom = 'duid'; }
    } else if (code === OPT_CLIENT_FQDN && l >= 2) {
      const name = wireName(buf, v + 1, v + l);
      if (name) m.fqdn = name;
    }
    o = v + l;
  }
}

// DUID-LLT (1: type, hw type, time, address) or DUID-LL (3: type, hw type, address), Ethernet only.
function duidMac(buf: Uint8Array, a: number, b: number): number {
  if (b - a < 4 || buf[a] !== 0 || buf[a + 2] !== 0 || buf[a + 3] !== 1) return -1;
  if (buf[a + 1] === 1 && b - a === 14) return readMac(buf, a + 8);
  if (buf[a + 1] === 3 && b - a === 10) return readMac(buf, a + 4);
  return -1;
}
