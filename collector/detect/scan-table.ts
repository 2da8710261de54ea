// Flat state for the scan detectors. Under churn (a botnet member sweeping a million hosts)
// they see one new (source, target) pair per flow: an object, a Set entry or a Map entry per
// pair lives long enough to be promoted and dies in old space. Here pairs and hosts are
// slots of typed arrays found through an open-addressing index: nothing is allocated per new
// pair or host but the occasional doubling. Keys are addrKey() values: an IPv4 address is a
// signed int32 kept in place; any other text (IPv6) is a string kept beside it.

/** A string key's hash (FNV-1a over its UTF-16 units). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

function hashKey(k: number | string): number {
  return typeof k === 'number' ? k | 0 : hashString(k);
}

/**
 * Per process: the hosts are the scanner's choice, and a fixed hash would let it pick
 * addresses that all land in one run of an index (every add a walk of it).
 */
const SEED = (Math.random() * 0x100000000) | 0;

/** murmur3's finaliser over the seeded key: neighbouring addresses spread over the index. */
function mix(h: number): number {
  h ^= SEED;
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
 * A set of addrKey()s, unordered, for a scanner's hosts (a million of them in a sweep): the
 * numbers in place in an open-addressing Int32Array (linear probing, at most 3/4 full,
 * doubled when needed; 0 marks an empty entry, so the key 0 is a flag beside it), so a host
 * costs 4 to 8 bytes and adding one allocates nothing; strings (IPv6) in a Set beside it.
 * The first number is kept in the object itself: with more sources than scanMaxSources each
 * source's state lives for a flow or two (one host), and emptying it for the next then reads
 * no table (a cache miss per flow).
 */
export class HostSet {
  private table = new Int32Array(SET_START * 2);
  /** number keys in the table */
  private n = 0;
  private zero = false;
  /** a number key kept beside the table (0: none) */
  private first = 0;
  private strs: Set<string> | null = null;

  get size(): number {
    return this.n + (this.first !== 0 ? 1 : 0) + (this.zero ? 1 : 0) + (this.strs === null ? 0 : this.strs.size);
  }

  has(k: number | string): boolean {
    if (typeof k !== 'number') return this.strs !== null && this.strs.has(k);
    if (k === 0) return this.zero;
    if (k === this.first) return true;
    if (this.n === 0) return false;
    const table = this.table, mask = table.length - 1;
    for (let i = mix(k) & mask; ; i = (i + 1) & mask) {
      const x = table[i];
      if (x === k) return true;
      if (x === 0) return false;
    }
  }

  /** Adds k; false when it was there already. */
  add(k: number | string): boolean {
    if (typeof k !== 'number') {
      if (this.strs === null) this.strs = new Set();
      else if (this.strs.has(k)) return false;
      this.strs.add(k);
      return true;
    }
    if (k === 0) {
      if (this.zero) return false;
      return (this.zero = true);
    }
    if (k === this.first) return false;
    if (this.first === 0 && this.n === 0) {
      this.first = k;
      return true;
    }
    let table = this.table, mask = table.length - 1;
    let i = mix(k) & mask;
    for (; ; i = (i + 1) & mask) {
      const x = table[i];
      if (x === k) return false;
      if (x === 0) break;
    }
    if (4 * (this.n + 1) > 3 * table.length) {
      table = this.rehash(table.length * 2);
      mask = table.length - 1;
      for (i = mix(k) & mask; table[i] !== 0; i = (i + 1) & mask);
    }
    table[i] = k;
    this.n++;
    return true;
  }

  clear(): void {
    // a big table goes (as Set.clear() frees its storage): a window's sweep of a million hosts is not kept for the next
    if (this.table.length > SET_START * 16) this.table = new Int32Array(SET_START * 2);
    else if (this.n > 0) this.table.fill(0);
    this.n = 0;
    this.first = 0;
    this.zero = false;
    this.strs = null;
  }

  private rehash(size: number) {
    const old = this.table, table = new Int32Array(size), mask = size - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j];
      if (k === 0) continue;
      let i = mix(k) & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = k;
    }
    return (this.table = table);
  }
}

/**
 * A set of addrKey()s that iterates in insertion order like a Set (the hosts that failed,
 * merged into a scan's hosts up to scanMaxTargets: which ones are kept depends on the order). Numbers live in an Int32Array in insertion order; an
 * index (linear probing, at most half full, doubled when needed) holds each one's key beside
 * its position, so a look-up reads one place; strings live in a Map beside them. No
 * deletion: the scan rules only add and clear.
 */
export class KeySet {
  /** [key, position + 1] per entry; position 0: empty */
  private index = new Int32Array(SET_START * 4);
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
    const index = this.index, mask = (index.length >> 1) - 1;
    for (let i = mix(k) & mask; ; i = (i + 1) & mask) {
      if (index[2 * i + 1] === 0) return false;
      if (index[2 * i] === k) return true;
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
    const index = this.index, entries = index.length >> 1, mask = entries - 1;
    let i = mix(k) & mask;
    for (; index[2 * i + 1] !== 0; i = (i + 1) & mask) if (index[2 * i] === k) return false;
    this.push(k);
    if (this.n * 2 > entries) {
      this.rehash(entries * 2);
      return true;
    }
    index[2 * i] = k;
    index[2 * i + 1] = this.n;
    return true;
  }

  clear(): void {
    // a big table goes (as Set.clear() frees its storage): a window's sweep of a million hosts is not kept for the next
    if (this.keys.length > SET_START * 8) {
      this.index = new Int32Array(SET_START * 4);
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

  /** A new index of `entries` entries over every number key (string positions skipped). */
  private rehash(entries: number): void {
    const index = new Int32Array(entries * 2), mask = entries - 1, keys = this.keys;
    const it = this.strs?.values();
    let s = it?.next();
    for (let p = 0; p < this.n; p++) {
      if (s && !s.done && s.value === p) {
        s = it!.next();
        continue;
      }
      let i = mix(keys[p]) & mask;
      while (index[2 * i + 1] !== 0) i = (i + 1) & mask;
      index[2 * i] = keys[p];
      index[2 * i + 1] = p + 1;
    }
    this.index = index;
  }
}

const SRC_STR = 1, DST_STR = 2, DEAD = 4;
/** a slot's own words: its keys (numbers in place), SRC_STR/DST_STR/DEAD, its [previous, next] slot in first-seen order (-1: none) */
const P_SRC = 0, P_DST = 1, P_STR = 2, P_PREV = 3, P_NEXT = 4;
/** the first word of a slot the owner may use (PairTable.words; doubles from word 6 up in PairTable.f64) */
export const PAIR_OWN = 5;

/**
 * (source, target) pairs as slots 0..capacity-1, at most maxSlots: found by key through an
 * open-addressing index (linear probing), linked in the order they were first seen (sweeps and
 * eviction go oldest first), freed slots reused. The index holds each pair's hash beside its
 * slot. A removal leaves the pair's index entry where it is (the slot is marked DEAD, or holds
 * another pair once reused; a look-up passes such entries by): under a host sweep every new
 * pair evicts one, and finding the old entry was a cache miss each time. The index is built
 * afresh from the live slots when its entries, live and left, fill half of it. A slot is one record of `stride` words holding its keys and links and, from PAIR_OWN
 * up, the owner's fields (in `words`, and as doubles in `f64`, which sees the same bytes):
 * under a host sweep a pair is created and evicted per flow, and with the fields in one cache
 * line (stride 16) that costs two misses (index, record) where a typed array per field cost one
 * each. Capacity doubles up to maxSlots as pairs arrive; `words` and `f64` are then new arrays
 * (read them after insert()), and `onGrow` is told.
 */
export class PairTable {
  private capacity: number;
  /** [slot + 1, hash] per entry; slot + 1 = 0: empty */
  private index: Int32Array;
  /** entries in the index, live and left by removals */
  private entries = 0;
  words: Int32Array;
  f64: Float64Array;
  /** a text key of a slot (IPv6), when its P_STR says so */
  private srcStr: (string | null)[] = [];
  private dstStr: (string | null)[] = [];
  /** free slots below `used` (a stack); slots from `used` up were never taken */
  private free: Int32Array;
  private freeTop = 0;
  private used = 0;
  head = -1;
  tail = -1;
  count = 0;

  /** stride: words per slot, a power of two of at least 8 */
  constructor(readonly maxSlots: number, private readonly onGrow: (capacity: number) => void = () => {}, start = 1024, readonly stride = 8) {
    if (stride < 8 || (stride & (stride - 1)) !== 0) throw new Error('PairTable: stride must be a power of two of at least 8');
    this.capacity = Math.max(1, Math.min(maxSlots, start));
    this.index = new Int32Array(2 * pow2AtLeast(this.capacity * 4));
    this.words = new Int32Array(stride * this.capacity);
    this.f64 = new Float64Array(this.words.buffer);
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
    const h = pairHash(src, dst), index = this.index, mask = (index.length >> 1) - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const p = index[2 * i];
      if (p === 0) return -1;
      if (index[2 * i + 1] === h && this.is(p - 1, src, dst)) return p - 1;
    }
  }

  /** A slot for a pair not in the table, at the back of the order. The caller keeps count < maxSlots. */
  insert(src: number | string, dst: number | string): number {
    if (this.count >= this.maxSlots) throw new Error('PairTable full');
    if (this.freeTop === 0 && this.used === this.capacity) this.grow();
    const slot = this.freeTop > 0 ? this.free[--this.freeTop] : this.used++;
    const w = this.words, r = this.stride * slot;
    let f = 0;
    if (typeof src === 'number') w[r + P_SRC] = src; else { f |= SRC_STR; this.srcStr[slot] = src; }
    if (typeof dst === 'number') w[r + P_DST] = dst; else { f |= DST_STR; this.dstStr[slot] = dst; }
    w[r + P_STR] = f;
    this.count++;
    this.append(slot);
    if (2 * (this.entries + 1) > this.index.length >> 1) this.rebuild(this.index.length >> 1);
    else {
      this.place(this.index, slot, pairHash(src, dst));
      this.entries++;
    }
    return slot;
  }

  remove(slot: number): void {
    this.unlink(slot);
    const r = this.stride * slot;
    if ((this.words[r + P_STR] & (SRC_STR | DST_STR)) !== 0) {
      this.srcStr[slot] = null;
      this.dstStr[slot] = null;
    }
    this.words[r + P_STR] = DEAD;
    this.free[this.freeTop++] = slot;
    this.count--;
  }

  next(slot: number): number {
    return this.words[this.stride * slot + P_NEXT];
  }

  /** The pair goes to the back of the order (as if first seen now). */
  moveToBack(slot: number): void {
    if (slot === this.tail) return;
    this.unlink(slot);
    this.append(slot);
  }

  /** the pair's hash, from its record (in the cache line a removal reads anyway) */
  private hashOf(slot: number): number {
    const w = this.words, r = this.stride * slot, f = w[r + P_STR];
    return pairHash((f & SRC_STR) !== 0 ? this.srcStr[slot]! : w[r + P_SRC], (f & DST_STR) !== 0 ? this.dstStr[slot]! : w[r + P_DST]);
  }

  private append(slot: number): void {
    const w = this.words, st = this.stride;
    w[st * slot + P_PREV] = this.tail;
    w[st * slot + P_NEXT] = -1;
    if (this.tail >= 0) w[st * this.tail + P_NEXT] = slot; else this.head = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const w = this.words, st = this.stride, p = w[st * slot + P_PREV], n = w[st * slot + P_NEXT];
    if (p >= 0) w[st * p + P_NEXT] = n; else this.head = n;
    if (n >= 0) w[st * n + P_PREV] = p; else this.tail = p;
  }

  private place(index: Int32Array, slot: number, h: number): void {
    const mask = (index.length >> 1) - 1;
    let i = h & mask;
    while (index[2 * i] !== 0) i = (i + 1) & mask;
    index[2 * i] = slot + 1;
    index[2 * i + 1] = h;
  }

  private is(slot: number, src: number | string, dst: number | string): boolean {
    const w = this.words, r = this.stride * slot, f = w[r + P_STR];
    if ((f & DEAD) !== 0) return false;
    if (typeof src === 'number' ? (f & SRC_STR) !== 0 || w[r + P_SRC] !== src : (f & SRC_STR) === 0 || this.srcStr[slot] !== src) return false;
    return typeof dst === 'number' ? (f & DST_STR) === 0 && w[r + P_DST] === dst : (f & DST_STR) !== 0 && this.dstStr[slot] === dst;
  }

  private grow(): void {
    const cap = Math.min(this.maxSlots, this.capacity * 2);
    const words = new Int32Array(this.stride * cap);
    words.set(this.words);
    this.words = words;
    this.f64 = new Float64Array(words.buffer);
    const free = new Int32Array(cap);
    free.set(this.free);
    this.free = free;
    for (let i = this.capacity; i < cap; i++) {
      this.srcStr.push(null);
      this.dstStr.push(null);
    }
    this.capacity = cap;
    this.rebuild(pow2AtLeast(cap * 4));
    this.onGrow(cap);
  }

  /** A new index of `size` entries over the live slots only (what removals left goes). */
  private rebuild(size: number): void {
    const index = size === this.index.length >> 1 ? this.index.fill(0) : new Int32Array(2 * size);
    for (let s = this.head; s >= 0; s = this.next(s)) this.place(index, s, this.hashOf(s));
    this.index = index;
    this.entries = this.count;
  }
}

function pairHash(src: number | string, dst: number | string): number {
  return mix(Math.imul(hashKey(src), 0x9e3779b1) ^ hashKey(dst));
}
