// Address parsing into fixed byte arrays and the binary prefix trie used for segments
// and address rules (longest match, or every prefix on the path).

import { parseIp6, ip4String, ip6String } from '../decode/addr.js';

export interface Cidr {
  v6: boolean;
  /** 16 bytes; IPv4 uses the first 4. */
  bytes: Uint8Array;
  /** prefix length in bits: 0-32 (v4) or 0-128 (v6). */
  len: number;
}

/**
 * Writes the address into out[0..4) or out[0..16); returns 4, 6, or 0 when `s` is no address.
 * IPv4 is parsed without allocating, since it runs once per evaluated flow.
 */
export function addrInto(s: string, out: Uint8Array): 0 | 4 | 6 {
  let part = 0, val = 0, digits = 0;
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 3) break;
      val = val * 10 + (c - 48);
      digits++;
      if (val > 255) break;
    } else if (c === 46 && digits > 0 && part < 3) {
      out[part++] = val; val = 0; digits = 0;
    } else break;
  }
  if (i === n && part === 3 && digits > 0) { out[3] = val; return 4; }
  if (s.indexOf(':') < 0) return 0;
  const b = parseIp6(s);
  if (!b) return 0;
  out.set(b);
  return 6;
}

/** Scratch for parseCidr's unmasked address (a policy parses one per rule; only the result is kept). */
const cidrScratch = new Uint8Array(16);

/** "0" or 1-3 digits without a leading zero, as /^(0|[1-9][0-9]{0,2})$/. */
function prefixDigits(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 3) return false;
  for (let i = 0; i < n; i++) { const c = s.charCodeAt(i); if (c < 48 || c > 57) return false; }
  return n === 1 || s.charCodeAt(0) !== 48;
}

/** A CIDR or a bare IP (a host prefix); `error` says what was expected. Host bits set are refused with a hint. */
export function parseCidr(s: string): Cidr | { error: string } {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const bytes = cidrScratch;
  bytes.fill(0);
  const fam = addrInto(addr, bytes);
  if (fam === 0) {
    return { error: `expected a CIDR like "192.168.50.0/24" or "fd00:50::/64" (or an IP), got "${s}": "${addr}" is not an IPv4 or IPv6 address` };
  }
  const max = fam === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const lt = s.slice(slash + 1);
    if (!prefixDigits(lt) || Number(lt) > max) {
      return { error: `expected a CIDR like "${fam === 4 ? '192.168.50.0/24' : 'fd00:50::/64'}", got "${s}": the prefix length must be 0-${max}` };
    }
    len = Number(lt);
  }
  const masked = new Uint8Array(16);
  maskInto(bytes, len, masked, fam === 4 ? 4 : 16);
  for (let k = 0; k < 16; k++) {
    if (masked[k] !== bytes[k]) {
      const net = fam === 4 ? ip4String(((masked[0] << 24) | (masked[1] << 16) | (masked[2] << 8) | masked[3]) >>> 0) : ip6String(masked, 0);
      return { error: `expected a network address, got "${s}" with host bits set (did you mean "${net}/${len}"?)` };
    }
  }
  return { v6: fam === 6, bytes: masked, len };
}

/** A single address (no prefix); canonical text or an error. */
export function parseIp(s: string): { ip: string; v6: boolean; bytes: Uint8Array } | { error: string } {
  const bytes = new Uint8Array(16);
  const fam = s.includes('/') ? 0 : addrInto(s, bytes);
  if (fam === 0) return { error: `expected an IP address like "192.168.50.1" or "fd00:50::1", got "${s}"` };
  const ip = fam === 4 ? ip4String(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) : ip6String(bytes, 0);
  return { ip, v6: fam === 6, bytes };
}

function maskInto(src: Uint8Array, len: number, dst: Uint8Array, nbytes: number): void {
  for (let k = 0; k < nbytes; k++) {
    const bits = len - 8 * k;
    dst[k] = bits >= 8 ? src[k] : bits <= 0 ? 0 : src[k] & (0xff << (8 - bits)) & 0xff;
  }
}

/** Does `addr` (bytes as from addrInto) lie in the CIDR? */
export function cidrContains(c: Cidr, v6: boolean, addr: Uint8Array): boolean {
  if (c.v6 !== v6) return false;
  let bits = c.len;
  for (let k = 0; bits > 0; k++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[k] & m) !== c.bytes[k]) return false;
  }
  return true;
}

/**
 * Binary trie over address bits. Nodes live in flat arrays (child indices, -1 = none)
 * so a 10,000-prefix table is a few arrays, not 300,000 objects.
 */
export class PrefixTrie<T> {
  /** child indices per node, in typed arrays grown by doubling (off the GC'd heap). */
  private c0 = new Int32Array(64).fill(-1);
  private c1 = new Int32Array(64).fill(-1);
  private vals: (T | undefined)[] = [undefined];
  /** nodes holding a value, so map() need not visit the (many more) nodes without one. */
  private valued: number[] = [];

  /** Set the value at a prefix; `merge` gets the value already there (undefined when none). */
  insert(bytes: Uint8Array, len: number, merge: (old: T | undefined) => T): void {
    let node = 0;
    let c0 = this.c0, c1 = this.c1;
    const vals = this.vals;
    for (let b = 0; b < len; b++) {
      const bit = (bytes[b >> 3] >> (7 - (b & 7))) & 1;
      let next = bit ? c1[node] : c0[node];
      if (next < 0) {
        next = vals.length;
        if (next === c0.length) { this.grow(); c0 = this.c0; c1 = this.c1; }
        vals.push(undefined);
        (bit ? c1 : c0)[node] = next;
      }
      node = next;
    }
    const old = this.vals[node];
    if (old === undefined) this.valued.push(node);
    this.vals[node] = merge(old);
  }

  private grow(): void {
    const n = this.c0.length * 2;
    const c0 = new Int32Array(n).fill(-1), c1 = new Int32Array(n).fill(-1);
    c0.set(this.c0);
    c1.set(this.c1);
    this.c0 = c0;
    this.c1 = c1;
  }

  /** Value of the longest prefix holding `bytes`, or undefined. */
  longest(bytes: Uint8Array, maxBits: number): T | undefined {
    let node = 0;
    let best = this.vals[0];
    for (let b = 0; b < maxBits; b++) {
      const bit = (bytes[b >> 3] >> (7 - (b & 7))) & 1;
      node = bit ? this.c1[node] : this.c0[node];
      if (node < 0) break;
      const v = this.vals[node];
      if (v !== undefined) best = v;
    }
    return best;
  }

  /** longest() of an IPv4 address given as its 32-bit value (uint32 or int32): no bytes written first. */
  longest32(v: number): T | undefined {
    let node = 0;
    let best = this.vals[0];
    const c0 = this.c0, c1 = this.c1;
    for (let b = 31; b >= 0; b--) {
      node = ((v >>> b) & 1) !== 0 ? c1[node] : c0[node];
      if (node < 0) break;
      const x = this.vals[node];
      if (x !== undefined) best = x;
    }
    return best;
  }

  /** Values of every prefix holding `bytes`, shortest first, into `out`; returns how many. */
  path(bytes: Uint8Array, maxBits: number, out: T[]): number {
    let n = 0;
    let node = 0;
    const v0 = this.vals[0];
    if (v0 !== undefined) out[n++] = v0;
    for (let b = 0; b < maxBits; b++) {
      const bit = (bytes[b >> 3] >> (7 - (b & 7))) & 1;
      node = bit ? this.c1[node] : this.c0[node];
      if (node < 0) break;
      const v = this.vals[node];
      if (v !== undefined) out[n++] = v;
    }
    return n;
  }

  /** The same shape with every value mapped (builders to finished indexes). */
  map<U>(fn: (v: T) => U): PrefixTrie<U> {
    const t = new PrefixTrie<U>();
    const n = this.vals.length;
    t.c0 = this.c0.slice(0, n);
    t.c1 = this.c1.slice(0, n);
    const vals = this.vals.slice() as unknown as (U | undefined)[];
    for (const i of this.valued) {
      const v = this.vals[i];
      if (v !== undefined) vals[i] = fn(v);
    }
    t.vals = vals;
    t.valued = this.valued.slice();
    return t;
  }

  get size(): number { return this.vals.length; }
}

/** A v4 and a v6 trie side by side. */
export class AddrTable<T> {
  constructor(readonly v4 = new PrefixTrie<T>(), readonly v6 = new PrefixTrie<T>()) {}

  map<U>(fn: (v: T) => U): AddrTable<U> {
    return new AddrTable(this.v4.map(fn), this.v6.map(fn));
  }

  insert(c: Cidr, merge: (old: T | undefined) => T): void {
    (c.v6 ? this.v6 : this.v4).insert(c.bytes, c.len, merge);
  }

  longest(fam: 4 | 6, bytes: Uint8Array): T | undefined {
    return fam === 4 ? this.v4.longest(bytes, 32) : this.v6.longest(bytes, 128);
  }

  path(fam: 4 | 6, bytes: Uint8Array, out: T[]): number {
    return fam === 4 ? this.v4.path(bytes, 32, out) : this.v6.path(bytes, 128, out);
  }
}
