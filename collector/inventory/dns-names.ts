// Which names a client resolved to which addresses, from the DNS answers it received:
// (client, address) -> names with TTL, bounded by total names with least-recently-updated eviction.
//
// Runs for every DNS response: pairs are found through a typed-array index on the two
// addresses' words (no key strings), the eviction order is a linked list of pair ids (a Map
// re-inserted on every update churns its table), and answers arrive as a DnsAnswers read
// straight from the wire, so a response for a pair already known allocates nothing.

import type { Text } from '../types.js';
import type { DnsMessage } from '../decode/dns.js';
import { DNS_A, DNS_AAAA, DNS_CNAME } from '../decode/dns.js';
import { DnsAnswers } from '../decode/dns-answers.js';
import { KeyIndex } from './key-index.js';
import { ipWords, keyWords } from './ip-words.js';

interface NameEntry {
  name: string;
  /** ms: answer time + TTL */
  expires: number;
  /** ms: when the answer was seen, for newest-first */
  seen: number;
}

/** CNAME chains longer than this are cut (a loop in a hostile answer cannot spin). */
const MAX_CHAIN = 16;
/** names kept per (client, address) */
const MAX_PER_PAIR = 16;
/** key words: client (4), address (4), the two families */
const KW = 9;
const NO_NAMES: NameEntry[] = [];
/** spare entries and lists kept at most each (a burst of evictions is not held for ever) */
const SPARE_MAX = 4096;

export class DnsNames {
  private readonly pairs = new KeyIndex(KW, 1024);
  /** names of each pair id, in the order they were added */
  private readonly lists: NameEntry[][] = [];
  // least recently updated pair first: a doubly linked list over pair ids
  private readonly prev: number[] = [];
  private readonly next: number[] = [];
  private head = -1;
  private tail = -1;
  private total = 0;
  /** names dropped to stay under maxEntries or MAX_PER_PAIR (expired ones are not counted) */
  evicted = 0;
  private readonly client = new Uint32Array(4);
  private readonly fromMessage = new DnsAnswers();
  /** a record's owner name and the names that CNAME to it */
  private readonly chain: string[] = [];
  // Entries and lists of evicted pairs, for the next pairs: at the cap every new pair evicts
  // one, and what it evicted had lived long enough to reach the old generation, where each
  // one dropped would be garbage that grows the heap until a full collection.
  private readonly spareEntries: NameEntry[] = [];
  private readonly spareLists: NameEntry[][] = [];

  /**
   * @param graceMs how long a name outlives its TTL (clients cache longer than they should)
   * @param maxEntries names kept in all, at least 1
   */
  constructor(private readonly graceMs: number, private readonly maxEntries: number) {}

  /** A DNS response `client` received. Every A/AAAA answer maps its address to its owner name and every name that CNAMEs to it. */
  observe(client: string, msg: DnsMessage, ts: number): void {
    if (!msg.qr || msg.answers.length === 0) return;
    const fam = ipWords(client, this.client, 0);
    if (fam === 0) return;
    this.fromMessage.fromMessage(msg);
    this.observeAnswers(fam, this.client, this.fromMessage, ts);
  }

  /**
   * The answers of a response the client received, as observe() takes them.
   * @param family 4 or 6, client's family; `client` holds its words (see ipWords)
   */
  observeAnswers(family: number, client: Uint32Array, a: DnsAnswers, ts: number): void {
    const n = a.count;
    if (n === 0) return;
    const probe = this.pairs.probe;
    let cnames = false;
    for (let i = 0; i < n; i++) if (a.type[i] === DNS_CNAME) { cnames = true; break; }
    const chain = this.chain;
    for (let i = 0; i < n; i++) {
      const t = a.type[i];
      if ((t !== DNS_A && t !== DNS_AAAA) || a.family[i] === 0) continue;
      let len = 1;
      chain[0] = a.name[i];
      // walk the chain back to the queried name: names whose CNAME points at one already held
      for (let c = 0; c < len && c < MAX_CHAIN && cnames; c++) {
        const want = chain[c];
        for (let k = 0; k < n; k++) {
          if (a.type[k] !== DNS_CNAME || a.target[k] !== want) continue;
          const src = a.name[k];
          let held = false;
          for (let m = 0; m < len; m++) if (chain[m] === src) { held = true; break; }
          if (!held) chain[len++] = src;
        }
      }
      const expires = ts + a.ttl[i] * 1000;
      for (let c = 0; c < len; c++) {
        if (chain[c] === '') continue;
        // the probe is refilled per put: put() may not leave it as it found it
        probe[0] = client[0]; probe[1] = client[1]; probe[2] = client[2]; probe[3] = client[3];
        const w = i * 4;
        probe[4] = a.addr[w]; probe[5] = a.addr[w + 1]; probe[6] = a.addr[w + 2]; probe[7] = a.addr[w + 3];
        probe[8] = (family << 4) | a.family[i];
        this.put(chain[c], expires, ts);
      }
    }
  }

  /** Names `client` got for `peer` still valid at ts (expires + grace >= ts), newest first. */
  namesFor(client: string, peer: Text, ts: number, clientKey?: number | string, peerKey?: number | string): string[] {
    const probe = this.pairs.probe;
    const cf = keyWords(clientKey, client, probe, 0);
    if (cf === 0) return [];
    const pf = keyWords(peerKey, peer, probe, 4);
    if (pf === 0) return [];
    probe[8] = (cf << 4) | pf;
    const id = this.pairs.find();
    if (id < 0) return [];
    const list = this.lists[id], grace = this.graceMs;
    // asked for every flow a name rule could judge: the usual answer (one name) builds one array
    let first: NameEntry | null = null, more: NameEntry[] | null = null;
    for (const e of list) {
      if (ts > e.expires + grace) continue;
      if (first === null) first = e;
      else (more ??= [first]).push(e);
    }
    if (first === null) return [];
    if (more === null) return [first.name];
    more.sort((a, b) => b.seen - a.seen);
    return more.map((e) => e.name);
  }

  /** names held */
  get size(): number { return this.total; }

  /** Adds name to the pair in the index's probe. */
  private put(name: string, expires: number, seen: number): void {
    let id = this.pairs.find();
    let list: NameEntry[];
    if (id >= 0) {
      list = this.lists[id];
      this.unlink(id);
    } else {
      id = this.pairs.add();
      list = this.spareLists.pop() ?? [];
      this.lists[id] = list;
    }
    this.append(id);
    for (let i = 0; i < list.length; i++) {
      const old = list[i];
      if (old.name === name) { old.expires = Math.max(old.expires, expires); old.seen = seen; return; }
    }
    // expired names of this pair go first, then the oldest
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].expires + this.graceMs < seen) { this.spare(list.splice(i, 1)[0]); this.total--; }
    }
    if (list.length >= MAX_PER_PAIR) {
      let oldest = 0;
      for (let i = 1; i < list.length; i++) if (list[i].seen < list[oldest].seen) oldest = i;
      this.spare(list.splice(oldest, 1)[0]);
      this.total--;
      this.evicted++;
    }
    const e = this.spareEntries.pop();
    if (e !== undefined) {
      e.name = name; e.expires = expires; e.seen = seen;
      list.push(e);
    } else list.push({ name, expires, seen });
    this.total++;
    while (this.total > this.maxEntries) {
      const first = this.head;
      const victim = this.lists[first];
      if (first === id && this.pairs.size === 1) {
        // only this pair left: drop its oldest names
        this.spare(victim.shift()!);
        this.total--;
        this.evicted++;
        continue;
      }
      this.total -= victim.length;
      this.evicted += victim.length;
      this.unlink(first);
      this.pairs.remove(first);
      this.lists[first] = NO_NAMES;
      for (const v of victim) this.spare(v);
      victim.length = 0;
      if (this.spareLists.length < SPARE_MAX) this.spareLists.push(victim);
    }
  }

  private spare(e: NameEntry): void {
    if (this.spareEntries.length < SPARE_MAX) this.spareEntries.push(e);
  }

  private unlink(id: number): void {
    const p = this.prev[id], n = this.next[id];
    if (p >= 0) this.next[p] = n; else this.head = n;
    if (n >= 0) this.prev[n] = p; else this.tail = p;
  }

  private append(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = -1;
    if (this.tail >= 0) this.next[this.tail] = id; else this.head = id;
    this.tail = id;
  }
}
