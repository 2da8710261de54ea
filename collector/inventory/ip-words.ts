// Addresses as four 32-bit words plus a family, for keys of typed-array indexes: the same
// address always gives the same words whatever its spelling ("fd00::1" and "FD00:0::1").

import { parseIp4, parseIp6 } from '../decode/addr.js';
import type { Text } from '../types.js';
import { textOf } from '../types.js';
import type { PacketInfo } from '../decode/packet.js';
import { L3 } from '../decode/packet.js';

/**
 * Writes the address in s at out[at, at + 4) (IPv4 in the last word, the others 0; IPv6
 * big-endian) and returns its family, 4 or 6; 0 when s is no address (canonicalIp gives null).
 */
export function ipWords(s: string, out: Uint32Array, at: number): number {
  const v4 = parseIp4(s);
  if (v4 >= 0) {
    out[at] = 0; out[at + 1] = 0; out[at + 2] = 0; out[at + 3] = v4;
    return 4;
  }
  const b = parseIp6(s);
  if (!b) return 0;
  for (let j = 0; j < 4; j++) out[at + j] = ((b[4 * j] << 24) | (b[4 * j + 1] << 16) | (b[4 * j + 2] << 8) | b[4 * j + 3]) >>> 0;
  return 6;
}

/**
 * ipWords() for a caller that may have the address's addrKey(): an IPv4 key (a number) is the
 * address itself, written without parsing the text.
 */
export function keyWords(key: number | string | undefined, s: Text, out: Uint32Array, at: number): number {
  if (typeof key !== 'number') return ipWords(textOf(s), out, at);
  out[at] = 0; out[at + 1] = 0; out[at + 2] = 0; out[at + 3] = key >>> 0;
  return 4;
}

/** ipWords() of a decoded IPv4/IPv6 packet's source or destination, without its text. */
export function packetIpWords(p: PacketInfo, src: boolean, out: Uint32Array, at: number): number {
  if (p.l3 === L3.IPv4) {
    out[at] = 0; out[at + 1] = 0; out[at + 2] = 0; out[at + 3] = src ? p.src4 : p.dst4;
    return 4;
  }
  const b = p.buf;
  let o = src ? p.srcOff : p.dstOff;
  for (let j = 0; j < 4; j++, o += 4) out[at + j] = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  return 6;
}
