// Map keys for addresses in per-flow state (inventory bindings, detectors). A fresh address
// string per flow costs a Map a hash of its text and, on a hit, a compare with the stored key's
// text (a cache miss on an old string); a small integer is hashed and compared in place.

/**
 * The key of an address text: a canonical dotted quad ("192.168.1.2": no leading zeros) becomes
 * its 32-bit value as a signed integer, any other text (IPv6, "") stays itself. Two texts get
 * the same key exactly when they are the same text, so keyed state behaves as keyed by text.
 */
export function addrKey(ip: string): number | string {
  const n = ip.length;
  if (n < 7 || n > 15) return ip;
  let value = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < n; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return ip;
      dots++;
      value = (value << 8) | part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // "010" is not how a decoder spells 10: it stays text, distinct from "10"
      if (digits > 0 && part === 0) return ip;
      if (++digits > 3) return ip;
      part = part * 10 + (c - 48);
      if (part > 255) return ip;
    } else return ip;
  }
  if (dots !== 3 || digits === 0) return ip;
  return (value << 8) | part;
}
