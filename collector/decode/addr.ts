// Address text <-> numbers. Formatting allocates a string, so the hot path calls these
// only when a flow starts or ends, never per packet.

const OCTET: string[] = [];
const OCTET_DOT: string[] = [];
for (let i = 0; i < 256; i++) {
  OCTET.push(String(i));
  OCTET_DOT.push(`${i}.`);
}

/**
 * "192.168.1.2" from a uint32. Four pieces from tables, not a template that converts each
 * number: half the time, and a sweep formats a new address per flow.
 */
export function ip4String(n: number): string {
  return OCTET_DOT[n >>> 24] + OCTET_DOT[(n >>> 16) & 255] + OCTET_DOT[(n >>> 8) & 255] + OCTET[n & 255];
}

/** RFC 5952 text of the 16 bytes at buf[off]: lower case, longest zero run as "::". */
export function ip6String(buf: Uint8Array, off: number): string {
  const w: number[] = new Array(8);
  for (let i = 0; i < 8; i++) w[i] = (buf[off + 2 * i] << 8) | buf[off + 2 * i + 1];
  return ip6WordsString(w);
}

/** RFC 5952 text of eight 16-bit words. */
export function ip6WordsString(w: ArrayLike<number>): string {
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  // IPv4-mapped ::ffff:a.b.c.d keeps the dotted form, as tshark and inet_ntop print it.
  if (bestStart === 0 && bestLen === 5 && w[5] === 0xffff) {
    return `::ffff:${w[6] >>> 8}.${w[6] & 255}.${w[7] >>> 8}.${w[7] & 255}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) { s += '::'; i += bestLen - 1; continue; }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += w[i].toString(16);
  }
  return s;
}

/** uint32 of a dotted quad, or -1 when it is not one. Char codes, no split or regex: inventory calls it per flow. */
export function parseIp4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0; digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** 16 bytes of an IPv6 address (with optional embedded IPv4 tail), or null when it is not one. */
export function parseIp6(s: string): Uint8Array | null {
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::') && dbl >= 0) return null;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const toWords = (part: string): number[] | null => {
    if (part === '') return [];
    const words: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIp4(g);
        if (v4 < 0) return null;
        words.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        words.push(parseInt(g, 16));
      }
    }
    return words;
  };
  const hw = toWords(head), tw = toWords(tail);
  if (!hw || !tw) return null;
  if (dbl < 0 && hw.length !== 8) return null;
  if (dbl >= 0 && hw.length + tw.length > 7) return null;
  const words = [...hw, ...new Array(8 - hw.length - tw.length).fill(0), ...tw];
  for (let i = 0; i < 8; i++) { out[2 * i] = words[i] >>> 8; out[2 * i + 1] = words[i] & 255; }
  return out;
}

/** Canonical text of any IPv4 or IPv6 address string, or null when it is neither. */
export function canonicalIp(s: string): string | null {
  if (parseIp4(s) >= 0) return ip4String(parseIp4(s));
  const b = parseIp6(s);
  return b ? ip6String(b, 0) : null;
}
