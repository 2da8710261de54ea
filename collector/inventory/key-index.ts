// An open-addressing index from fixed-width keys of 32-bit words (addresses, address pairs) to
// small dense ids, in typed arrays: a look-up hashes a few words where a Map would build and
// hash a string key per call. Callers keep their values in arrays indexed by id.

export class KeyIndex {
  /** The key to find() or add(): fill its words first. */
  readonly probe: Uint32Array;
  private keys: Uint32Array;
  private hashes: Int32Array;
  /** id + 1, 0 = empty; linear probing, kept at most half full */
  private index: Int32Array;
  private mask: number;
  private readonly free: number[] = [];
  private nextId = 0;
  private lastHash = 0;
  /** keys held */
  size = 0;

  constructor(readonly width: number, initial = 64) {
    this.probe = new Uint32Array(width);
    let cap = 16;
    while (cap < initial) cap *= 2;
    this.keys = new Uint32Array(cap * width);
    this.hashes = new Int32Array(cap);
    this.index = new Int32Array(cap * 2);
    this.mask = cap * 2 - 1;
  }

  /** id of the probe key, or -1. */
  find(): number {
    const w = this.width, probe = this.probe, keys = this.keys, index = this.index, mask = this.mask;
    let h = 0x811c9dc5 ^ w;
    for (let i = 0; i < w; i++) h = Math.imul(h ^ probe[i], 0x01000193);
    h ^= h >>> 15; h = Math.imul(h, 0x2c1b3c6d); h ^= h >>> 12;
    this.lastHash = h;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = index[i];
      if (e === 0) return -1;
      const id = e - 1;
      if (this.hashes[id] !== h) continue;
      let same = true;
      for (let j = 0, b = id * w; j < w; j++) if (keys[b + j] !== probe[j]) { same = false; break; }
      if (same) return id;
    }
  }

  /** Adds the probe key, which the find() just before missed; returns its id. */
  add(): number {
    const w = this.width;
    let id: number;
    if (this.free.length > 0) id = this.free.pop()!;
    else {
      id = this.nextId++;
      if (id >= this.hashes.length) this.growKeys();
    }
    this.keys.set(this.probe, id * w);
    this.hashes[id] = this.lastHash;
    if ((this.size + 1) * 2 > this.index.length) this.growIndex();
    this.insert(id);
    this.size++;
    return id;
  }

  /** Forgets the key of id; the id may be handed out again. */
  remove(id: number): void {
    const index = this.index, mask = this.mask;
    let i = this.hashes[id] & mask;
    while (index[i] !== id + 1) i = (i + 1) & mask;
    // backward-shift deletion keeps probe chains intact without tombstones
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = index[j];
      if (e === 0) break;
      const home = this.hashes[e - 1] & mask;
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) { index[i] = e; i = j; }
    }
    index[i] = 0;
    this.free.push(id);
    this.size--;
  }

  /** Word i of the key held under id. */
  word(id: number, i: number): number {
    return this.keys[id * this.width + i];
  }

  private insert(id: number): void {
    const index = this.index, mask = this.mask;
    let i = this.hashes[id] & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = id + 1;
  }

  private growKeys(): void {
    const keys = new Uint32Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
    const hashes = new Int32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  private growIndex(): void {
    const old = this.index;
    this.index = new Int32Array(old.length * 2);
    this.mask = this.index.length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.insert(old[i] - 1);
  }
}
