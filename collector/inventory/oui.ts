// MAC vendor from the IEEE OUI registry (npm oui-data), loaded once on first use.
//
// The registry is a 5.6 MB JSON object, one `"OUI": "text",` entry a line, the six-digit
// keys first and in ascending order. Parsing it builds 54,000 strings a run looks up a few
// dozen of, so the first device of a run paid ~150 ms. The file is read as bytes instead and
// a key is looked for by binary search over its lines (about 17 lines read); a line found is
// one whose key is the one asked for, so a found entry is right whatever the order (unless a
// key were repeated apart, which the registry never does). Only a
// key not found that way makes the whole file be indexed by line (checked to be exactly that
// shape, ~35 ms), which then answers; a file of any other shape is parsed whole, as before.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

let bytes: Buffer | null = null;
/** OUI (24 bits) -> offset of its JSON string literal in `bytes`; built on the first miss */
let index: Map<number, number> | null = null;
let table: Record<string, string> | null = null;

function load(): void {
  if (bytes !== null || table !== null) return;
  try {
    const file = createRequire(import.meta.url).resolve('oui-data');
    const buf = readFileSync(file);
    if (buf.length >= 2 && buf[0] === 0x7b && buf[1] === 0x0a) bytes = buf;
    else parseWhole(buf);
  } catch {
    // Without the registry devices simply have no vendor; nothing else depends on it.
    table = {};
  }
}

function parseWhole(buf: Buffer): void {
  try {
    const text = buf.toString('utf8');
    // as require() reads a .json file: a leading BOM is dropped
    table = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Record<string, string>;
  } catch {
    table = {};
  }
}

/**
 * Offset of the value literal of the entry for the six-digit key `key` (a number), by binary
 * search over the lines of b, or -1. Lines that are not entries of a six-digit key sort last
 * (the longer MA-M and MA-S keys follow the six-digit ones). Of repeated keys the last wins,
 * as in JSON.parse.
 */
export function searchLines(b: Buffer, key: number): number {
  let lo = 2, hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const ls = b.lastIndexOf(0x0a, mid - 1) + 1;
    const le = b.indexOf(0x0a, ls);
    const k = lineKey(b, ls);
    if (k === key) {
      // the last of a run of equal keys
      let at = ls, next = le + 1;
      while (le >= 0 && next < b.length && lineKey(b, next) === key) {
        at = next;
        const e = b.indexOf(0x0a, next);
        if (e < 0) break;
        next = e + 1;
      }
      return at + 11;
    }
    if (k < key) {
      if (le < 0) return -1;
      lo = le + 1;
    } else hi = ls;
  }
  return -1;
}

/** The six-digit key of the entry line at b[ls] (` "HHHHHH": "`), or Infinity for any other line. */
function lineKey(b: Buffer, ls: number): number {
  if (b[ls] !== 0x20 || b[ls + 1] !== 0x22 || b[ls + 8] !== 0x22 || b[ls + 9] !== 0x3a || b[ls + 10] !== 0x20 || b[ls + 11] !== 0x22) return Infinity;
  let key = 0;
  for (let p = ls + 2; p < ls + 8; p++) {
    const c = b[p];
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46))) return Infinity;
    key = key * 16 + (c <= 0x39 ? c - 0x30 : c - 0x37);
  }
  return key;
}

/** The registry's text for an upper-case hex key of six digits, or undefined. */
function entryOf(key: string): string | undefined {
  load();
  if (table !== null) return table[key];
  if (!/^[0-9A-F]{6}$/.test(key)) return undefined;
  const k = parseInt(key, 16);
  let at: number | undefined = searchLines(bytes!, k);
  if (at < 0) {
    // not found by the search: the line index is the authority (and refuses a file of another shape)
    if (index === null) {
      index = indexLines(bytes!);
      if (index === null) { parseWhole(bytes!); return table![key]; }
    }
    at = index.get(k);
  }
  if (at === undefined) return undefined;
  try {
    return literalAt(bytes!, at);
  } catch {
    // a string JSON.parse refuses: the file is not what it seemed, read it as require() did
    parseWhole(bytes!);
    return table![key];
  }
}

/** The JSON string literal at b[start] (its line was checked by indexLines), parsed. */
export function literalAt(b: Buffer, start: number): string {
  let stop = b.indexOf(0x0a, start);
  if (stop < 0) stop = b.length;
  if (b[stop - 1] === 0x2c) stop--;
  return JSON.parse(b.toString('utf8', start, stop)) as string;
}

/**
 * Index of a registry of exactly this shape: "{", lines ` "HEX": "string"` each but the last
 * ending in ",", "}" (and an optional final newline). Any other shape: null. The strings' insides
 * are left to JSON.parse at look-up (entryOf() falls back to parsing the whole file if one fails).
 * Exported for tests, with literalAt().
 */
export function indexLines(buf: Buffer): Map<number, number> | null {
  const b = buf;
  const n = b.length;
  if (n < 2 || b[0] !== 0x7b || b[1] !== 0x0a) return null;
  const idx = new Map<number, number>();
  let pos = 2, entries = 0;
  let lastComma = true;
  for (;;) {
    if (pos >= n) return null;
    if (b[pos] === 0x7d) {
      // "}" ends the object: only a newline may follow, and the entry before it has no comma
      if (lastComma && entries > 0) return null;
      const rest = n - pos - 1;
      if (rest > 1 || (rest === 1 && b[n - 1] !== 0x0a)) return null;
      return idx;
    }
    if (!lastComma) return null;
    // ` "KEY": "`
    if (b[pos] !== 0x20 || b[pos + 1] !== 0x22) return null;
    let p = pos + 2, key = 0;
    const keyStart = p;
    while (p < n && b[p] !== 0x22) {
      const c = b[p];
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46))) return null;
      key = key * 16 + (c <= 0x39 ? c - 0x30 : c - 0x37);
      p++;
    }
    const keyLen = p - keyStart;
    if (keyLen === 0 || b[p + 1] !== 0x3a || b[p + 2] !== 0x20 || b[p + 3] !== 0x22) return null;
    const valueStart = p + 3;
    // the string closes at the end of its line (before a comma): no other quote but escaped ones
    const lineEnd = b.indexOf(0x0a, valueStart);
    if (lineEnd < 0) return null;
    lastComma = b[lineEnd - 1] === 0x2c;
    const close = lastComma ? lineEnd - 2 : lineEnd - 1;
    if (close <= valueStart || b[close] !== 0x22 || escaped(b, close)) return null;
    for (let q = b.indexOf(0x22, valueStart + 1); q < close; q = b.indexOf(0x22, q + 1)) if (!escaped(b, q)) return null;
    // a later entry of the same key wins, as in JSON.parse; only six-digit keys are ever asked for
    if (keyLen === 6) idx.set(key, valueStart);
    entries++;
    pos = lineEnd + 1;
  }
}

/** Whether the byte at b[i] follows an odd run of backslashes. */
function escaped(b: Uint8Array, i: number): boolean {
  let k = i - 1;
  while (b[k] === 0x5c) k--;
  return ((i - 1 - k) & 1) === 1;
}

/**
 * Organisation name (first line of the registry entry) for "aa:bb:cc:dd:ee:ff", "" when unknown
 * or when the MAC is locally administered (randomised MACs carry no vendor).
 */
export function vendorOf(mac: string): string {
  if (mac.length < 8) return '';
  const first = parseInt(mac.slice(0, 2), 16);
  if (!Number.isFinite(first) || (first & 0x02) !== 0) return '';
  const key = (mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8)).toUpperCase();
  const entry = entryOf(key);
  if (entry === undefined) return '';
  const nl = entry.indexOf('\n');
  return (nl < 0 ? entry : entry.slice(0, nl)).trim();
}
