// The name store as it was before it was keyed by address words: the model the new one must match.
// (Copied from collector/inventory/dns-names.ts at fd036b9; imports adjusted.)


import type { DnsMessage } from '../../../collector/decode/dns.js';
import { DNS_A, DNS_AAAA, DNS_CNAME } from '../../../collector/decode/dns.js';
import { canonicalIp } from '../../../collector/decode/addr.js';

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

export class ReferenceDnsNames {
  // Map iteration order is insertion order: re-inserting on update makes the first key the stalest.
  private readonly pairs = new Map<string, NameEntry[]>();
  private total = 0;

  /**
   * @param graceMs how long a name outlives its TTL (clients cache longer than they should)
   * @param maxEntries names kept in all, at least 1
   */
  constructor(private readonly graceMs: number, private readonly maxEntries: number) {}

  /** A DNS response `client` received. Every A/AAAA answer maps its address to its owner name and every name that CNAMEs to it. */
  observe(client: string, msg: DnsMessage, ts: number): void {
    if (!msg.qr || msg.answers.length === 0) return;
    const c = canonicalIp(client);
    if (c === null) return;
    // reverse CNAME edges: target -> names pointing at it
    let back: Map<string, string[]> | null = null;
    for (const r of msg.answers) {
      if (r.type !== DNS_CNAME) continue;
      back ??= new Map();
      const list = back.get(r.data);
      if (list) list.push(r.name); else back.set(r.data, [r.name]);
    }
    for (const r of msg.answers) {
      if (r.type !== DNS_A && r.type !== DNS_AAAA) continue;
      const addr = canonicalIp(r.data);
      if (addr === null) continue;
      const names = [r.name];
      // walk the chain back to the queried name
      for (let i = 0; i < names.length && i < MAX_CHAIN && back; i++) {
        for (const src of back.get(names[i]) ?? []) if (!names.includes(src)) names.push(src);
      }
      for (const n of names) if (n !== '') this.put(c, addr, n, ts + r.ttl * 1000, ts);
    }
  }

  /** Names `client` got for `peer` still valid at ts (expires + grace >= ts), newest first. */
  namesFor(client: string, peer: string, ts: number): string[] {
    const c = canonicalIp(client), p = canonicalIp(peer);
    if (c === null || p === null) return [];
    const list = this.pairs.get(c + '|' + p);
    if (!list) return [];
    const out: NameEntry[] = [];
    for (const e of list) if (ts <= e.expires + this.graceMs) out.push(e);
    out.sort((a, b) => b.seen - a.seen);
    return out.map((e) => e.name);
  }

  /** names held */
  get size(): number { return this.total; }

  private put(client: string, addr: string, name: string, expires: number, seen: number): void {
    const key = client + '|' + addr;
    let list = this.pairs.get(key);
    if (list) this.pairs.delete(key); else list = [];
    this.pairs.set(key, list);
    const old = list.find((e) => e.name === name);
    if (old) { old.expires = Math.max(old.expires, expires); old.seen = seen; return; }
    // expired names of this pair go first, then the oldest
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].expires + this.graceMs < seen) { list.splice(i, 1); this.total--; }
    }
    if (list.length >= MAX_PER_PAIR) {
      let oldest = 0;
      for (let i = 1; i < list.length; i++) if (list[i].seen < list[oldest].seen) oldest = i;
      list.splice(oldest, 1);
      this.total--;
    }
    list.push({ name, expires, seen });
    this.total++;
    while (this.total > this.maxEntries) {
      const first = this.pairs.keys().next();
      if (first.done) break;
      const victim = this.pairs.get(first.value)!;
      if (first.value === key && this.pairs.size === 1) {
        // only this pair left: drop its oldest names
        victim.shift();
        this.total--;
        continue;
      }
      this.total -= victim.length;
      this.pairs.delete(first.value);
    }
  }
}
