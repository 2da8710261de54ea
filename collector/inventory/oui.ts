// MAC vendor from the IEEE OUI registry (npm oui-data), parsed once, on the first look-up,
// into a table of the 24-bit OUIs in ascending order.
//
// The registry is a 5.6 MB JSON object, one `"OUI": "text",` entry a line. JSON.parse of it
// builds 54,000 full address strings a run looks up a few dozen of (50-150 ms), so the file
// is read as bytes, each line checked to be exactly an entry of that shape, and only the keys
// and each entry's first line kept (~1.4 MB, as JSON literals; the 5.6 MB file is let go); a
// vendor's text is decoded when first asked for.
// A file of any other shape is parsed with JSON.parse, as before, into the same table.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

/** The six-digit (MA-L) entries of a registry: OUI -> organisation name. */
export interface OuiTable {
  /** Organisation name (first line of the entry, trimmed) of a 24-bit OUI, or undefined. */
  vendor(oui: number): string | undefined;
  /** Number of six-digit OUIs in the registry */
  readonly size: number;
}

let registry: OuiTable | null = null;

function loadRegistry(): OuiTable {
  try {
    return parseRegistry(readFileSync(createRequire(import.meta.url).resolve('oui-data')));
  } catch {
    // Without the registry devices simply have no vendor; nothing else depends on it.
    return parseRegistry(Buffer.from('{}'));
  }
}

/**
 * The table of a registry file's bytes. A registry that is not valid JSON gives an empty table
 * (as JSON.parse would refuse it); of a repeated key the later entry wins, as in JSON.parse.
 */
export function parseRegistry(buf: Buffer): OuiTable {
  return scanLines(buf) ?? parseWhole(buf);
}

/** Organisation name: the first line of an entry, trimmed. */
function firstLine(entry: string): string {
  const nl = entry.indexOf('\n');
  return (nl < 0 ? entry : entry.slice(0, nl)).trim();
}

/** Index of `key` in the ascending `keys`, or -1. */
function find(keys: Uint32Array, key: number): number {
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid];
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/** Sorted keys and vendors of `pairs` (a later pair of the same key replaces an earlier one). */
function tableOf(pairs: Map<number, string>): OuiTable {
  const keys = Uint32Array.from(pairs.keys()).sort();
  const vendors = Array.from(keys, (k) => pairs.get(k)!);
  return {
    size: keys.length,
    vendor: (oui) => {
      const i = find(keys, oui);
      return i < 0 ? undefined : vendors[i];
    },
  };
}

function parseWhole(buf: Buffer): OuiTable {
  const pairs = new Map<number, string>();
  try {
    const text = buf.toString('utf8');
    // as require() reads a .json file: a leading BOM is dropped
    const parsed: unknown = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof v === 'string' && /^[0-9A-F]{6}$/.test(k)) pairs.set(parseInt(k, 16), firstLine(v));
      }
    }
  } catch {
    // not JSON: no vendors
  }
  return tableOf(pairs);
}

/**
 * The table of a registry of exactly this shape: "{", lines ` "HEX": "string"` each but the
 * last ending in ",", "}" (and an optional final newline); any other shape: null. Keys of six
 * digits are kept with the offset of their string; other keys (MA-M, MA-S) are never asked for.
 * A string's escapes are left to JSON.parse when its vendor is first asked for; if one fails
 * the file is not what it seemed and the whole table is rebuilt by parseWhole().
 */
function scanLines(b: Buffer): OuiTable | null {
  const n = b.length;
  if (n < 2 || b[0] !== 0x7b || b[1] !== 0x0a) return null;
  let keys = new Uint32Array(65536);
  let starts = new Uint32Array(65536);
  let count = 0, sorted = true;
  let pos = 2, lastComma = true, entries = 0;
  for (;;) {
    if (pos >= n) return null;
    if (b[pos] === 0x7d) {
      // "}" ends the object: only a newline may follow, and the entry before it has no comma
      if (lastComma && entries > 0) return null;
      const rest = n - pos - 1;
      if (rest > 1 || (rest === 1 && b[n - 1] !== 0x0a)) return null;
      break;
    }
    if (!lastComma) return null;
    // ` "KEY": "`
    if (b[pos] !== 0x20 || b[pos + 1] !== 0x22) return null;
    let p = pos + 2, key = 0;
    const keyStart = p;
    while (p < n && b[p] !== 0x22) {
      const c = b[p];
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46))) return null;
      // only six digits are kept: the longer MA-M and MA-S keys would overflow a small integer
      // (and deoptimise the loop)
      if (p < keyStart + 6) key = key * 16 + (c <= 0x39 ? c - 0x30 : c - 0x37);
      p++;
    }
    const keyLen = p - keyStart;
    if (keyLen === 0 || b[p + 1] !== 0x3a || b[p + 2] !== 0x20 || b[p + 3] !== 0x22) return null;
    const valueStart = p + 3;
    // the string closes at the end of its line, before a comma (what it holds is JSON.parse's
    // to check, when it is asked for)
    const lineEnd = lineFeedFrom(b, valueStart);
    if (lineEnd < 0) return null;
    lastComma = b[lineEnd - 1] === 0x2c;
    const close = lastComma ? lineEnd - 2 : lineEnd - 1;
    if (close <= valueStart || b[close] !== 0x22) return null;
    if (keyLen === 6) {
      if (count === keys.length) {
        keys = grow(keys);
        starts = grow(starts);
      }
      if (count > 0 && key <= keys[count - 1]) sorted = false;
      keys[count] = key;
      starts[count] = valueStart;
      count++;
    }
    entries++;
    pos = lineEnd + 1;
  }
  if (!sorted) return null; // out of order or repeated: let parseWhole() sort it out
  keys = keys.slice(0, count);
  // Only each entry's first line is ever asked for: it is copied, as a JSON string literal of its
  // own, into a buffer about a quarter of the registry's size, and the registry is let go (the
  // collector would otherwise hold 5.6 MB for its life to answer a few dozen look-ups).
  const firsts = Buffer.allocUnsafe(n);
  const at = new Uint32Array(count + 1);
  let w = 0;
  for (let i = 0; i < count; i++) {
    at[i] = w;
    firsts[w++] = 0x22;
    const lineEnd = lineFeedFrom(b, starts[i]);
    const close = b[lineEnd - 1] === 0x2c ? lineEnd - 2 : lineEnd - 1;
    for (let p = starts[i] + 1; p < close; p++) {
      const c = b[p];
      // a raw control character or quote is not JSON: leave the file to JSON.parse
      if (c < 0x20 || c === 0x22) return null;
      if (c !== 0x5c) { firsts[w++] = c; continue; }
      const e = b[p + 1];
      if (e === 0x6e) break; // "\n": the first line ends
      if (e === 0x75) {
        // "\uXXXX"
        for (let k = 2; k < 6; k++) if (!isHex(b[p + k])) return null;
        b.copy(firsts, w, p, p + 6);
        w += 6;
        p += 5;
        continue;
      }
      // the other escapes JSON has; any other is not JSON
      if (e !== 0x22 && e !== 0x5c && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x72 && e !== 0x74) return null;
      if (p + 1 >= close) return null;
      firsts[w++] = c;
      firsts[w++] = e;
      p++;
    }
    firsts[w++] = 0x22;
  }
  at[count] = w;
  const text = Buffer.from(firsts.subarray(0, w));
  const vendors: (string | undefined)[] = new Array<string | undefined>(count);
  return {
    size: count,
    vendor: (oui) => {
      const i = find(keys, oui);
      if (i < 0) return undefined;
      let v = vendors[i];
      // every literal was checked above, so JSON.parse takes it
      if (v === undefined) v = vendors[i] = (JSON.parse(text.toString('utf8', at[i], at[i + 1])) as string).trim();
      return v;
    },
  };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

// Uint8Array's indexOf is a V8 builtin; Buffer's goes through Node's binding, and costs 2-3
// times as much over the 54,000 lines of the registry.
const typedIndexOf = Uint8Array.prototype.indexOf;

/** Offset of the next line feed at or after `from`, or -1. */
function lineFeedFrom(b: Uint8Array, from: number): number {
  return typedIndexOf.call(b, 0x0a, from);
}

function grow(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const g = new Uint32Array(a.length * 2);
  g.set(a);
  return g;
}

/**
 * Organisation name (first line of the registry entry) for "aa:bb:cc:dd:ee:ff", "" when unknown
 * or when the MAC is locally administered (randomised MACs carry no vendor).
 */
export function vendorOf(mac: string): string {
  if (mac.length < 8) return '';
  const hex = mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8);
  if (!/^[0-9A-Fa-f]{6}$/.test(hex)) return '';
  const oui = parseInt(hex, 16);
  if ((oui & 0x020000) !== 0) return '';
  registry ??= loadRegistry();
  return registry.vendor(oui) ?? '';
}
