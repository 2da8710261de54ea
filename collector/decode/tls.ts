// TLS ClientHello server_name (RFC 6066): the name a device asks for, seen in the first TCP
// payload of a flow. Reads in place; allocates only the returned name.

import { isHostName, lowerToken } from './names.js';

/**
 * SNI host name from a TLS record at buf[off, off + len): handshake record (22), ClientHello (1),
 * then session id, cipher suites, compression methods and extensions, server_name (0) of type
 * host_name (0). Lower case, trailing dot dropped. null when not a ClientHello, when the record or
 * the hello is incomplete in these bytes (split across segments), or when the name is not a host name.
 */
export function tlsSni(buf: Uint8Array, off: number, len: number): string | null {
  if (!(off >= 0 && len >= 0)) return null;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (off + 9 > end) return null;
  if (buf[off] !== 22 || buf[off + 1] !== 3) return null;
  const recLen = (buf[off + 3] << 8) | buf[off + 4];
  if (off + 5 + recLen < end) end = off + 5 + recLen;
  let o = off + 5;
  if (buf[o] !== 1) return null;
  const hsLen = (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3];
  o += 4;
  const hsEnd = o + hsLen;
  if (hsEnd > end) return null;
  o += 2 + 32; // client_version, random
  if (o + 1 > hsEnd) return null;
  o += 1 + buf[o]; // session id
  if (o + 2 > hsEnd) return null;
  o += 2 + ((buf[o] << 8) | buf[o + 1]); // cipher suites
  if (o + 1 > hsEnd) return null;
  o += 1 + buf[o]; // compression methods
  if (o + 2 > hsEnd) return null;
  let extEnd = o + 2 + ((buf[o] << 8) | buf[o + 1]);
  if (extEnd > hsEnd) extEnd = hsEnd;
  o += 2;
  // Each extension header is 4 bytes, so this walk is bounded by the hello's length.
  while (o + 4 <= extEnd) {
    const type = (buf[o] << 8) | buf[o + 1];
    const l = (buf[o + 2] << 8) | buf[o + 3];
    o += 4;
    if (o + l > extEnd) return null;
    if (type === 0) return serverName(buf, o, o + l);
    o += l;
  }
  return null;
}

function serverName(buf: Uint8Array, a: number, b: number): string | null {
  if (a + 2 > b) return null;
  let listEnd = a + 2 + ((buf[a] << 8) | buf[a + 1]);
  if (listEnd > b) listEnd = b;
  let o = a + 2;
  while (o + 3 <= listEnd) {
    const t = buf[o];
    const l = (buf[o + 1] << 8) | buf[o + 2];
    o += 3;
    if (o + l > listEnd) return null;
    if (t === 0) {
      let s = lowerToken(buf, o, o + l);
      if (s === null) return null;
      if (s.endsWith('.')) s = s.slice(0, -1);
      return isHostName(s) ? s : null;
    }
    o += l;
  }
  return null;
}
