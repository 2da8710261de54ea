// The answers of a DNS response that tie names to addresses (A, AAAA, CNAME), read straight
// from the wire into reused arrays: what the inventory needs from every unicast DNS response,
// without a message object, record objects or address text. It accepts and refuses exactly
// what decodeDns does (a message decodeDns refuses gives nothing, a malformed record ends the
// answers where decodeDns ends its list), so the two never disagree; mDNS uses decodeDns.

import type { DnsMessage } from './dns.js';
import { DNS_A, DNS_AAAA, DNS_CNAME, DNS_NS, DNS_PTR, DNS_SRV, DNS_TXT, DNS_MAX_JUMPS, DNS_MAX_NAME, DNS_MAX_QUESTIONS, DNS_MAX_RECORDS, readName } from './dns.js';
import { parseIp4, parseIp6 } from './addr.js';

/** Names remembered for re-use (direct-mapped by hash): a resolver's answers repeat few names. */
const INTERN_SLOTS = 4096;

export class DnsAnswers {
  /** answers held: A and AAAA with an address, CNAME; in message order. */
  count = 0;
  /** DNS_A, DNS_AAAA or DNS_CNAME */
  readonly type = new Uint16Array(DNS_MAX_RECORDS);
  /** seconds */
  readonly ttl = new Float64Array(DNS_MAX_RECORDS);
  /** owner name, lower case, as decodeDns spells it */
  readonly name: string[] = new Array<string>(DNS_MAX_RECORDS).fill('');
  /** CNAME: the target name ("" for empty rdata, as decodeDns gives); "" otherwise */
  readonly target: string[] = new Array<string>(DNS_MAX_RECORDS).fill('');
  /** address family of A/AAAA answers: 4, 6, or 0 when the data is no address (then it is skipped) */
  readonly family = new Uint8Array(DNS_MAX_RECORDS);
  /** four words per answer: IPv4 in the last word (others 0), IPv6 big-endian */
  readonly addr = new Uint32Array(DNS_MAX_RECORDS * 4);

  // a name's text while it is read: lower-case ASCII (labels joined by dots)
  private readonly text = Buffer.alloc(DNS_MAX_NAME + 1);
  private textLen = 0;
  private ascii = true;
  private readonly interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);
  private readonly cursor = { pos: 0 };

  /**
   * Reads the DNS message at buf[off, off + len) (a UDP payload). Returns true when it is a
   * response decodeDns would accept; its A/AAAA/CNAME answers are then in count/type/...
   * Queries and refused messages return false with count 0. Never throws.
   */
  read(buf: Uint8Array, off: number, len: number): boolean {
    this.count = 0;
    if (!(off >= 0 && len >= 12)) return false;
    let end = off + len;
    if (end > buf.length) end = buf.length;
    if (off + 12 > end) return false;
    // a query answers nothing: its questions need no reading
    if ((buf[off + 2] & 0x80) === 0) return false;
    const qd = (buf[off + 4] << 8) | buf[off + 5];
    const an = (buf[off + 6] << 8) | buf[off + 7];
    if (qd > DNS_MAX_QUESTIONS) return false;
    let pos = off + 12;
    for (let i = 0; i < qd; i++) {
      pos = this.scan(buf, off, end, pos, false);
      if (pos < 0 || pos + 4 > end) return false;
      pos += 4;
    }
    // answers come first, so the record budget decodeDns applies across sections cuts them at DNS_MAX_RECORDS
    for (let i = 0; i < an && i < DNS_MAX_RECORDS; i++) {
      const at = pos;
      const p = this.scan(buf, off, end, pos, true);
      if (p < 0 || p + 10 > end) return true;
      const type = (buf[p] << 8) | buf[p + 1];
      const rdlen = (buf[p + 8] << 8) | buf[p + 9];
      const rd = p + 10;
      const rdEnd = rd + rdlen;
      if (rdEnd > end) return true;
      const k = this.count;
      if ((type === DNS_A && rdlen === 4) || (type === DNS_AAAA && rdlen === 16)) {
        this.name[k] = this.nameText(buf, off, end, at);
        this.target[k] = '';
        const w = k * 4;
        if (type === DNS_A) {
          this.family[k] = 4;
          this.addr[w] = 0; this.addr[w + 1] = 0; this.addr[w + 2] = 0;
          this.addr[w + 3] = ((buf[rd] << 24) | (buf[rd + 1] << 16) | (buf[rd + 2] << 8) | buf[rd + 3]) >>> 0;
        } else {
          this.family[k] = 6;
          for (let j = 0; j < 4; j++) {
            const o = rd + 4 * j;
            this.addr[w + j] = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
          }
        }
      } else if (type === DNS_CNAME) {
        this.name[k] = this.nameText(buf, off, end, at);
        this.family[k] = 0;
        if (rdlen === 0) this.target[k] = '';
        else {
          // names inside rdata may be compressed too, but may not run past the rdata
          if (this.scan(buf, off, rdEnd, rd, true) < 0) return true;
          this.target[k] = this.nameText(buf, off, rdEnd, rd);
        }
      } else {
        // not kept, but decodeDns refuses the same malformed rdata (and ends its list there)
        if ((type === DNS_PTR || type === DNS_NS) && rdlen > 0 && this.scan(buf, off, rdEnd, rd, false) < 0) return true;
        if (type === DNS_SRV && rdlen >= 7 && this.scan(buf, off, rdEnd, rd + 6, false) < 0) return true;
        if (type === DNS_TXT) {
          for (let q = rd; q < rdEnd; q += 1 + buf[q]) if (q + 1 + buf[q] > rdEnd) return true;
        }
        pos = rdEnd;
        continue;
      }
      this.type[k] = type;
      this.ttl[k] = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
      this.count = k + 1;
      pos = rdEnd;
    }
    return true;
  }

  /**
   * The A/AAAA/CNAME answers of a decoded message (tests and callers holding a DnsMessage):
   * addresses are taken from their text, as the name store always did. false when the message
   * is no response.
   */
  fromMessage(msg: DnsMessage): boolean {
    this.count = 0;
    if (!msg.qr) return false;
    for (const r of msg.answers) {
      if (this.count >= DNS_MAX_RECORDS) break;
      if (r.type !== DNS_A && r.type !== DNS_AAAA && r.type !== DNS_CNAME) continue;
      const k = this.count++;
      this.type[k] = r.type;
      this.ttl[k] = r.ttl;
      this.name[k] = r.name;
      this.target[k] = r.type === DNS_CNAME ? r.data : '';
      this.family[k] = 0;
      if (r.type === DNS_CNAME) continue;
      const w = k * 4;
      const v4 = parseIp4(r.data);
      if (v4 >= 0) {
        this.family[k] = 4;
        this.addr[w] = 0; this.addr[w + 1] = 0; this.addr[w + 2] = 0; this.addr[w + 3] = v4;
        continue;
      }
      const b = parseIp6(r.data);
      if (!b) continue;
      this.family[k] = 6;
      for (let j = 0; j < 4; j++) this.addr[w + j] = ((b[4 * j] << 24) | (b[4 * j + 1] << 16) | (b[4 * j + 2] << 8) | b[4 * j + 3]) >>> 0;
    }
    return true;
  }

  /**
   * Walks the name at buf[pos] under decodeDns's rules (pointers strictly backwards, at most
   * DNS_MAX_JUMPS, no extended labels, at most DNS_MAX_NAME bytes) and returns the offset after
   * it, -1 when malformed. With `want` its lower-cased text is left in the scratch.
   */
  private scan(buf: Uint8Array, start: number, end: number, pos: number, want: boolean): number {
    const text = this.text;
    let wireLen = 0, jumps = 0, after = -1, n = 0, ascii = true;
    for (;;) {
      if (pos >= end) return -1;
      const l = buf[pos];
      if (l === 0) { if (after < 0) after = pos + 1; break; }
      const kind = l & 0xc0;
      if (kind === 0xc0) {
        if (pos + 2 > end) return -1;
        const target = start + (((l & 0x3f) << 8) | buf[pos + 1]);
        if (target >= pos || ++jumps > DNS_MAX_JUMPS) return -1;
        if (after < 0) after = pos + 2;
        pos = target;
        continue;
      }
      if (kind !== 0) return -1;
      if (pos + 1 + l > end) return -1;
      wireLen += l + 1;
      if (wireLen > DNS_MAX_NAME) return -1;
      if (want) {
        if (n > 0) text[n++] = 46;
        for (let i = pos + 1, e = pos + 1 + l; i < e; i++) {
          const c = buf[i];
          if (c >= 0x80) ascii = false;
          text[n++] = c >= 65 && c <= 90 ? c + 32 : c;
        }
      }
      pos += 1 + l;
    }
    if (want) { this.textLen = n; this.ascii = ascii; }
    return after;
  }

  /** The text of the name scan() just read (at buf[pos]): interned when ASCII, else decoded as decodeDns does. */
  private nameText(buf: Uint8Array, start: number, end: number, pos: number): string {
    if (!this.ascii) return readName(buf, start, end, pos, this.cursor) ?? '';
    const text = this.text, n = this.textLen;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ text[i], 0x01000193);
    const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
    const hit = this.interned[slot];
    if (hit !== undefined && hit.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) if (hit.charCodeAt(i) !== text[i]) { same = false; break; }
      if (same) return hit;
    }
    const s = text.toString('latin1', 0, n);
    this.interned[slot] = s;
    return s;
  }
}
