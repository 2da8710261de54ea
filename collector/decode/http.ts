// HTTP/1.x requests: the Host a device asks for and whether it sends Basic credentials in the
// clear. Reads the request head in place; allocates only the returned host.

import { lowerToken } from './names.js';

/** Bytes of the request head scanned, at most. */
export const HTTP_MAX_HEAD = 8192;

// Request methods we recognise, as bytes followed by a space.
const METHODS: readonly Uint8Array[] = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE',
  'PROPFIND', 'SUBSCRIBE', 'NOTIFY', 'M-SEARCH', 'UNSUBSCRIBE']
  .map((m) => Uint8Array.from(Buffer.from(m + ' ', 'latin1')));

const HOST = Uint8Array.from(Buffer.from('host', 'latin1'));
const AUTHORIZATION = Uint8Array.from(Buffer.from('authorization', 'latin1'));
const BASIC = Uint8Array.from(Buffer.from('basic', 'latin1'));

function isRequest(buf: Uint8Array, off: number, end: number): boolean {
  for (const m of METHODS) {
    if (off + m.length > end) continue;
    let ok = true;
    for (let i = 0; i < m.length; i++) if (buf[off + i] !== m[i]) { ok = false; break; }
    if (ok) return true;
  }
  return false;
}

// Case-insensitive compare of buf[o, o + word.length) with a lower-case ASCII word.
function matchLower(buf: Uint8Array, o: number, end: number, word: Uint8Array): boolean {
  if (o + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if ((buf[o + i] | 0x20) !== word[i] && buf[o + i] !== word[i]) return false;
  return true;
}

/**
 * Offset of the value of header `name` (lower-case bytes) in the request head at buf[off, end),
 * leading blanks skipped; -1 when absent. The value ends at the next CR or LF.
 */
function headerValue(buf: Uint8Array, off: number, end: number, name: Uint8Array): number {
  let o = off;
  // skip the request line
  while (o < end && buf[o] !== 0x0a) o++;
  o++;
  while (o < end) {
    if (buf[o] === 0x0d || buf[o] === 0x0a) return -1; // blank line: end of head
    if (matchLower(buf, o, end, name) && o + name.length < end && buf[o + name.length] === 0x3a) {
      let v = o + name.length + 1;
      while (v < end && (buf[v] === 0x20 || buf[v] === 0x09)) v++;
      return v;
    }
    while (o < end && buf[o] !== 0x0a) o++;
    o++;
  }
  return -1;
}

/**
 * Offset of the Authorization header's value in the request head at buf[off, end) (end
 * already bounded by the caller), or -1: for a detector that reads the credentials.
 */
export function authorizationValue(buf: Uint8Array, off: number, end: number): number {
  return headerValue(buf, off, end, AUTHORIZATION);
}

function bounds(buf: Uint8Array, off: number, len: number): number {
  if (!(off >= 0 && len >= 0)) return -1;
  let end = off + (len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
  if (end > buf.length) end = buf.length;
  return end;
}

/**
 * Host header of an HTTP/1.x request at buf[off, off + len) (a TCP payload): lower case, port
 * and IPv6 brackets removed. null when the bytes do not start with a known method or have no Host
 * within the first HTTP_MAX_HEAD bytes.
 */
export function httpHost(buf: Uint8Array, off: number, len: number): string | null {
  const end = bounds(buf, off, len);
  if (end < 0 || !isRequest(buf, off, end)) return null;
  const v = headerValue(buf, off, end, HOST);
  if (v < 0) return null;
  let e = v;
  while (e < end && buf[e] !== 0x0d && buf[e] !== 0x0a) e++;
  while (e > v && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09)) e--;
  let s = lowerToken(buf, v, e);
  if (s === null) return null;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    s = s.slice(1, close);
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0) s = s.slice(0, colon);
    if (s.endsWith('.')) s = s.slice(0, -1);
  }
  return s === '' ? null : s;
}

/** true when the HTTP request at buf[off, off + len) carries an "Authorization: Basic ..." header. */
export function httpBasicAuth(buf: Uint8Array, off: number, len: number): boolean {
  const end = bounds(buf, off, len);
  if (end < 0 || !isRequest(buf, off, end)) return false;
  const v = headerValue(buf, off, end, AUTHORIZATION);
  return v >= 0 && matchLower(buf, v, end, BASIC) && (v + 5 === end || buf[v + 5] === 0x20 || buf[v + 5] === 0x0d);
}
