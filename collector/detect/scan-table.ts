// Flat state for the scan detectors. Under churn (a botnet member sweeping a million hosts)
// they see one new (source, target) pair per flow: an object, a Set entry or a Map entry per
// pair lives long enough to be promoted and dies in old space. Here pairs and hosts are
// slots of typed arrays found through an open-addressing index: nothing is allocated per new
// pair or host but the occasional doubling. Keys are addrKey() values: an IPv4 address is a
// signed int32 kept in place; any other text (IPv6) is a string kept beside it, rarely.

/** A string key's hash (FNV-1a over its UTF-16 units). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

function hashKey(k: number | string): number {
  return typeof k === 'number' ? k | 0 : hashString(k);
}

/** murmur3's finaliser: neighbouring addresses spread over the index. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function pow2AtLeast(n: number): number {
  let p = 8;
  while (p < n) p *= 2;
  return p;
}

const SET_START = 8;

/**
 * A set of addrKey()s that iterates in insertion order like a Set (the scan rules' caps make
 * which keys are kept depend on it). Numbers live in an Int32Array of keys in insertion order
 * with an index of positions (linear probing, at most half full, doubled when needed);
 * strings in a Map beside them. No deletion: the scan rules only add and clear.
 */
export class KeySet {
  /** position + 1 of a number key; 0: empty */
  private index = new Int32Array(SET_START * 2);
  /** keys by position (a string's position holds 0) */
  private keys = new Int32Array(SET_START);
  private n = 0;
  /** string keys -> position; positions rise in the Map's order (used to merge in iteration) */
  private strs: Map<string, number> | null = null;

  get size(): number {
    return this.n;
  }

  has(k: number | string): boolean {
    if (typeof k !== 'number') return this.strs !== null && this.strs.has(k);
    const index = this.index, keys = this.keys, mask = index.length - 1;
    for (let i = mix(k) & mask; ; i = (i + 1) & mask) {
      const p = index[i];
      if (p === 0) return false;
      if (keys[p - 1] === k) return true;
    }
  }

  /** Adds k; false when it was there already. */
  add(k: number | string): boolean {
    if (typeof k !== 'number') {
      if (this.strs === null) this.strs = new Map();
      else if (this.strs.has(k)) return false;
      this.push(0);
      this.strs.set(k, this.n - 1);
      return true;
    }
    let index = this.index, mask = index.length - 1;
    let i = mix(k) & mask;
    for (; ; i = (i + 1) & mask) {
      const p = index[i];
      if (p === 0) break;
      if (this.keys[p - 1] === k) return false;
    }
    this.push(k);
    if (this.n * 2 > index.length) {
      this.rehash(index.length * 2);
      return true;
    }
    index[i] = this.n;
    return true;
  }

  clear(): void {
    // a big table goes (as Set.clear() frees its storage): a window's sweep of a million hosts is not kept for the next
    if (this.keys.length > SET_START * 8) {
      this.index = new Int32Array(SET_START * 2);
      this.keys = new Int32Array(SET_START);
    } else if (this.n > 0) this.index.fill(0);
    this.n = 0;
    this.strs = null;
  }

  /** Each key in insertion order. */
  forEach(fn: (k: number | string) => void): void {
    const n = this.n, keys = this.keys;
    const it = this.strs?.entries();
    let s = it?.next();
    for (let p = 0; p < n; p++) {
      if (s && !s.done && s.value[1] === p) {
        fn(s.value[0]);
        s = it!.next();
      } else fn(keys[p]);
    }
  }

  private push(k: number): void {
    if (this.n === this.keys.length) {
      const keys = new Int32Array(this.keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys[this.n++] = k;
  }

  /** A new index of `size` slots over every number key (string positions skipped). */
  private rehash(size: number): void {
    const index = new Int32Array(size), mask = size - 1, keys = this.keys;
    const it = this.strs?.values();
    let s = it?.next();
    for (let p = 0; p < this.n; p++) {
      if (s && !s.done && s.value === p) {
        s = it!.next();
        continue;
      }
      let i = mix(keys[p]) & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = p + 1;
    }
    this.index = index;
  }
}

const SRC_STR = 1, DST_STR = 2;

/**
 * (source, target) pairs as slots 0..capacity-1, at most maxSlots: found by key through an
 * open-addressing index (linear probing, deletion by backward shift, so no tombstones pile
 * up under churn), linked in the order they were first seen (sweeps and eviction go oldest
 * first), freed slots reused. The caller keeps its per-pair fields in arrays of `capacity`,
 * resized in `onGrow` (capacity doubles up to maxSlots as pairs arrive).
 */
export class PairTable {
  private capacity: number;
  private index: Int32Array;
  private hash: Int32Array;
  private src: Int32Array;
  private dst: Int32Array;
  /** SRC_STR/DST_STR: that key is text, in srcStr/dstStr */
  private strs: Uint8Array;
  private srcStr: (string | null)[] = [];
  private dstStr: (string | null)[] = [];
  private prev: Int32Array;
  private nextSlot: Int32Array;
  /** free slots below `used` (a stack); slots from `used` up were never taken */
  private free: Int32Array;
  private freeTop = 0;
  private used = 0;
  head = -1;
  tail = -1;
  count = 0;

  constructor(readonly maxSlots: number, private readonly onGrow: (capacity: number) => void = () => {}, start = 1024) {
    this.capacity = Math.max(1, Math.min(maxSlots, start));
    this.index = new Int32Array(pow2AtLeast(this.capacity * 2));
    this.hash = new Int32Array(this.capacity);
    this.src = new Int32Array(this.capacity);
    this.dst = new Int32Array(this.capacity);
    this.strs = new Uint8Array(this.capacity);
    this.prev = new Int32Array(this.capacity);
    this.nextSlot = new Int32Array(this.capacity);
    this.free = new Int32Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) {
      this.srcStr.push(null);
      this.dstStr.push(null);
    }
  }

  get size(): number {
    return this.capacity;
  }

  /** The pair's slot, or -1. */
  find(src: number | string, dst: number | string): number {
    const h = pairHash(src, dst), index = this.index, mask = index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const p = index[i];
      if (p === 0) return -1;
      if (this.hash[p - 1] === h && this.is(p - 1, src, dst)) return p - 1;
    }
  }

  /** A slot for a pair not in the table, at the back of the order. The caller keeps count < maxSlots. */
  insert(src: number | string, dst: number | string): number {
    if (this.count >= this.maxSlots) throw new Error('PairTable full');
    if (this.freeTop === 0 && this.used === this.capacity) this.grow();
    const slot = this.freeTop > 0 ? this.free[--this.freeTop] : this.used++;
    const h = pairHash(src, dst);
    this.hash[slot] = h;
    let f = 0;
    if (typeof src === 'number') this.src[slot] = src; else { f |= SRC_STR; this.srcStr[slot] = src; }
    if (typeof dst === 'number') this.dst[slot] = dst; else { f |= DST_STR; this.dstStr[slot] = dst; }
    this.strs[slot] = f;
    const index = this.index, mask = index.length - 1;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
    this.prev[slot] = this.tail;
    this.nextSlot[slot] = -1;
    if (this.tail >= 0) this.nextSlot[this.tail] = slot; else this.head = slot;
    this.tail = slot;
    this.count++;
    return slot;
  }

  remove(slot: number): void {
    const index = this.index, mask = index.length - 1;
    let i = this.hash[slot] & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    // backward shift: pull each following entry of the run back if the hole lies on its probe path
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const p = index[j];
      if (p === 0) break;
      const home = this.hash[p - 1] & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        index[i] = p;
        i = j;
      }
    }
    index[i] = 0;
    this.unlink(slot);
    if (this.strs[slot] !== 0) {
      this.srcStr[slot] = null;
      this.dstStr[slot] = null;
      this.strs[slot] = 0;
    }
    this.free[this.freeTop++] = slot;
    this.count--;
  }

  next(slot: number): number {
    return this.nextSlot[slot];
  }

  /** The pair goes to the back of the order (as if first seen now). */
  moveToBack(slot: number): void {
    if (slot === this.tail) return;
    this.unlink(slot);
    this.prev[slot] = this.tail;
    this.nextSlot[slot] = -1;
    if (this.tail >= 0) this.nextSlot[this.tail] = slot; else this.head = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot], n = this.nextSlot[slot];
    if (p >= 0) this.nextSlot[p] = n; else this.head = n;
    if (n >= 0) this.prev[n] = p; else this.tail = p;
  }

  private is(slot: number, src: number | string, dst: number | string): boolean {
    const f = this.strs[slot];
    if (typeof src === 'number' ? (f & SRC_STR) !== 0 || this.src[slot] !== src : (f & SRC_STR) === 0 || this.srcStr[slot] !== src) return false;
    return typeof dst === 'number' ? (f & DST_STR) === 0 && this.dst[slot] === dst : (f & DST_STR) !== 0 && this.dstStr[slot] === dst;
  }

  private grow(): void {
    const cap = Math.min(this.maxSlots, this.capacity * 2);
    const wider = <A extends Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.hash = wider(this.hash, (n) => new Int32Array(n));
    this.src = wider(this.src, (n) => new Int32Array(n));
    this.dst = wider(this.dst, (n) => new Int32Array(n));
    this.strs = wider(this.strs, (n) => new Uint8Array(n));
    this.prev = wider(this.prev, (n) => new Int32Array(n));
    this.nextSlot = wider(this.nextSlot, (n) => new Int32Array(n));
    this.free = wider(this.free, (n) => new Int32Array(n));
    for (let i = this.capacity; i < cap; i++) {
      this.srcStr.push(null);
      this.dstStr.push(null);
    }
    this.capacity = cap;
    const index = new Int32Array(pow2AtLeast(cap * 2)), mask = index.length - 1;
    for (let s = this.head; s >= 0; s = this.nextSlot[s]) {
      let i = this.hash[s] & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = s + 1;
    }
    this.index = index;
    this.onGrow(cap);
  }
}

function pairHash(src: number | string, dst: number | string): number {
  return mix(Math.imul(hashKey(src), 0x9e3779b1) ^ hashKey(dst));
}
