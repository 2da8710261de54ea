// Address classes inventory needs: which IPs may be bound to a device, which count as local,
// which MACs name a single station.

import { parseIp4, parseIp6 } from '../decode/addr.js';

/** isLocalIp() of an IPv4 address as a 32-bit value (uint32 or addrKey()'s int32). */
export function isLocalIp4(v4: number): boolean {
  const a = v4 >>> 24, b = (v4 >>> 16) & 255;
  return a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254);
}

/** RFC 1918, 100.64/10 (CGNAT), 169.254/16, fe80::/10, fc00::/7. */
export function isLocalIp(ip: string): boolean {
  const v4 = parseIp4(ip);
  if (v4 >= 0) return isLocalIp4(v4);
  const v6 = parseIp6(ip);
  if (!v6) return false;
  return (v6[0] === 0xfe && (v6[1] & 0xc0) === 0x80) || (v6[0] & 0xfe) === 0xfc;
}

/**
 * A guess, without the site's segments, that two addresses share a link: the same /24 (IPv4)
 * or /64 (IPv6). A frame between them is not routed, so its MACs are the hosts' own.
 */
export function sameSubnet(a: string, b: string): boolean {
  const a4 = parseIp4(a);
  if (a4 >= 0) {
    const b4 = parseIp4(b);
    return b4 >= 0 && (a4 >>> 8) === (b4 >>> 8);
  }
  const a6 = parseIp6(a), b6 = parseIp6(b);
  if (!a6 || !b6) return false;
  for (let i = 0; i < 8; i++) if (a6[i] !== b6[i]) return false;
  return true;
}

/** An address a single host can own: not unspecified, limited broadcast, multicast or reserved class E. */
export function isBindableIp(ip: string): boolean {
  const v4 = parseIp4(ip);
  if (v4 >= 0) return v4 !== 0 && v4 < 0xe0000000 && (v4 >>> 24) !== 0 && (v4 >>> 24) !== 127;
  const v6 = parseIp6(ip);
  if (!v6) return false;
  if (v6[0] === 0xff) return false;
  let zero = true, loop = true;
  for (let i = 0; i < 16; i++) {
    if (v6[i] !== 0) zero = false;
    if (v6[i] !== (i === 15 ? 1 : 0)) loop = false;
  }
  return !zero && !loop;
}

/** A unicast station MAC: not all-zero, not broadcast or multicast (group bit). */
export function isStationMac(mac: string): boolean {
  if (mac.length !== 17 || mac === '00:00:00:00:00:00') return false;
  // every flow start asks: two hex digits are read in place, anything else as parseInt reads it
  const hi = hexDigit(mac.charCodeAt(0)), lo = hexDigit(mac.charCodeAt(1));
  if (hi >= 0 && lo >= 0) return (lo & 1) === 0;
  const first = parseInt(mac.slice(0, 2), 16);
  return Number.isFinite(first) && (first & 1) === 0;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  return c >= 97 && c <= 102 ? c - 87 : -1;
}

/**
 * s.toLowerCase(), without a new string when there is nothing to lower: MACs arrive in lower
 * case at every flow start, and toLowerCase() copies them all the same.
 */
export function lowerText(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c >= 128) return s.toLowerCase();
  }
  return s;
}
