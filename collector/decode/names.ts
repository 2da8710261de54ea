// Text from the wire for the app-layer decoders: bounded byte->string conversion and the
// hostname checks that keep garbage out of inventory names.

const utf8 = new TextDecoder('utf-8');

/** UTF-8 text of buf[a, b) (invalid sequences become U+FFFD). Allocates; app layer only. */
export function utf8Text(buf: Uint8Array, a: number, b: number): string {
  return utf8.decode(buf.subarray(a, b));
}

/** Printable ASCII text of buf[a, b) with trailing NULs dropped, or null when any byte is a control or non-ASCII byte. */
export function asciiText(buf: Uint8Array, a: number, b: number): string | null {
  while (b > a && buf[b - 1] === 0) b--;
  let s = '';
  for (let i = a; i < b; i++) {
    const c = buf[i];
    if (c < 0x20 || c > 0x7e) return null;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * buf[a, b) lower-cased when every byte is printable ASCII other than space (a host name, a
 * header token), else null. The string is made once from the bytes: adding a character at a
 * time made a string per character, most of the allocation of a run that reads many names.
 */
export function lowerToken(buf: Uint8Array, a: number, b: number): string | null {
  let upper = false;
  for (let i = a; i < b; i++) {
    const c = buf[i];
    if (c < 0x21 || c > 0x7e) return null;
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  let s: string;
  if (buf instanceof Buffer) s = buf.toString('latin1', a, b);
  else {
    s = '';
    for (let i = a; i < b; i++) s += String.fromCharCode(buf[i]);
  }
  return upper ? s.toLowerCase() : s;
}

/** Lower-case hex of buf[a, b), bytes joined by sep. */
export function hexText(buf: Uint8Array, a: number, b: number, sep = ''): string {
  let s = '';
  for (let i = a; i < b; i++) {
    if (i > a) s += sep;
    s += (buf[i] < 16 ? '0' : '') + buf[i].toString(16);
  }
  return s;
}

/**
 * A DNS-style host name: at most 253 characters, labels of 1..63 letters, digits, '-' or '_'
 * (underscores appear in SRV/service names), no leading or trailing dot.
 */
export function isHostName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i.test(s);
}

/**
 * A DNS wire-format name without compression (DHCPv4 option 81 with the E flag, DHCPv6 option
 * 39), lower case; possibly partial (no root label). undefined when a label runs past b.
 */
export function wireName(buf: Uint8Array, a: number, b: number): string | undefined {
  let name = '';
  while (a < b) {
    const l = buf[a];
    if (l === 0) break;
    if (l > 63 || a + 1 + l > b) return undefined;
    if (name !== '') name += '.';
    name += utf8Text(buf, a + 1, a + 1 + l);
    a += 1 + l;
  }
  return name === '' ? undefined : name.toLowerCase();
}
