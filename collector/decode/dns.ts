// DNS and mDNS messages (RFC 1035, RFC 6762): header, questions and resource records with
// name compression. Allocates its result; called for DNS/mDNS packets only, never per packet.

import { ip4String, ip6String } from './addr.js';
import { hexText, utf8Text } from './names.js';

/** Caps on what a message may make us do: counts from the wire are clamped to these. */
export const DNS_MAX_QUESTIONS = 32;
export const DNS_MAX_RECORDS = 256;
/** Compression pointers followed in one name before it is refused. */
export const DNS_MAX_JUMPS = 32;
/** Longest name in wire form (RFC 1035 2.3.4). */
export const DNS_MAX_NAME = 255;
/** Rdata of unknown types is kept as hex of at most this many bytes. */
export const DNS_MAX_HEX = 64;

export const DNS_A = 1, DNS_NS = 2, DNS_CNAME = 5, DNS_PTR = 12, DNS_TXT = 16, DNS_AAAA = 28, DNS_SRV = 33;

export interface DnsQuestion {
  /** lower case, no trailing dot; "" for the root */
  name: string;
  type: number;
  /** class with the mDNS unicast-response bit masked off */
  class: number;
  /** mDNS: the QU bit (top bit of class) */
  unicastResponse: boolean;
}

export interface DnsRecord {
  name: string;
  type: number;
  /** class with the mDNS cache-flush bit masked off */
  class: number;
  /** seconds */
  ttl: number;
  /**
   * A/AAAA: canonical address text; CNAME/PTR/NS: the target name; SRV: the target name;
   * TXT: the strings joined with ";"; other types: hex of the rdata (at most DNS_MAX_HEX bytes).
   */
  data: string;
  /** mDNS cache-flush bit */
  cacheFlush: boolean;
  /** SRV only: priority, weight, port */
  srv?: { priority: number; weight: number; port: number };
  /** TXT only: each character-string */
  txt?: string[];
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  rcode: number;
  /** authoritative answer, truncated (TC) flags */
  aa: boolean;
  tc: boolean;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  /** true when the message ended (or turned malformed) before all counted records were read */
  incomplete: boolean;
}

// A name's end (offset after it in the message, -1 when malformed) comes back through this
// box so readName can return the text; one per decodeDns call.
export interface Cursor { pos: number }

/**
 * Name at buf[pos] within the message buf[start, end). Pointers must point strictly backwards
 * from where they sit and at most DNS_MAX_JUMPS are followed, so a loop cannot run forever.
 * Returns null on a malformed name; cur.pos is set to the offset after the name in the original position.
 */
export function readName(buf: Uint8Array, start: number, end: number, pos: number, cur: Cursor): string | null {
  let name = '';
  let wireLen = 0;
  let jumps = 0;
  let after = -1;
  for (;;) {
    if (pos >= end) return null;
    const l = buf[pos];
    if (l === 0) { if (after < 0) after = pos + 1; break; }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (pos + 2 > end) return null;
      const target = start + (((l & 0x3f) << 8) | buf[pos + 1]);
      if (target >= pos || ++jumps > DNS_MAX_JUMPS) return null;
      if (after < 0) after = pos + 2;
      pos = target;
      continue;
    }
    if (kind !== 0) return null; // 0x40/0x80: extended label types, obsolete
    if (pos + 1 + l > end) return null;
    wireLen += l + 1;
    if (wireLen > DNS_MAX_NAME) return null;
    if (name !== '') name += '.';
    name += utf8Text(buf, pos + 1, pos + 1 + l);
    pos += 1 + l;
  }
  cur.pos = after;
  return name.toLowerCase();
}

function readRecord(buf: Uint8Array, start: number, end: number, cur: Cursor): DnsRecord | null {
  const name = readName(buf, start, end, cur.pos, cur);
  if (name === null) return null;
  const p = cur.pos;
  if (p + 10 > end) return null;
  const type = (buf[p] << 8) | buf[p + 1];
  const cls = (buf[p + 2] << 8) | buf[p + 3];
  const ttl = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
  const rdlen = (buf[p + 8] << 8) | buf[p + 9];
  const rd = p + 10;
  const rdEnd = rd + rdlen;
  if (rdEnd > end) return null;
  const rec: DnsRecord = { name, type, class: cls & 0x7fff, ttl, data: '', cacheFlush: (cls & 0x8000) !== 0 };
  const inner: Cursor = { pos: 0 };
  if (type === DNS_A && rdlen === 4) {
    rec.data = ip4String(((buf[rd] << 24) | (buf[rd + 1] << 16) | (buf[rd + 2] << 8) | buf[rd + 3]) >>> 0);
  } else if (type === DNS_AAAA && rdlen === 16) {
    rec.data = ip6String(buf, rd);
  } else if ((type === DNS_CNAME || type === DNS_PTR || type === DNS_NS) && rdlen > 0) {
    // Names inside rdata may be compressed too, pointing anywhere earlier in the message.
    const t = readName(buf, start, rdEnd, rd, inner);
    if (t === null) return null;
    rec.data = t;
  } else if (type === DNS_SRV && rdlen >= 7) {
    const t = readName(buf, start, rdEnd, rd + 6, inner);
    if (t === null) return null;
    rec.data = t;
    rec.srv = { priority: (buf[rd] << 8) | buf[rd + 1], weight: (buf[rd + 2] << 8) | buf[rd + 3], port: (buf[rd + 4] << 8) | buf[rd + 5] };
  } else if (type === DNS_TXT) {
    const txt: string[] = [];
    let q = rd;
    while (q < rdEnd) {
      const l = buf[q];
      if (q + 1 + l > rdEnd) return null;
      txt.push(utf8Text(buf, q + 1, q + 1 + l));
      q += 1 + l;
    }
    rec.txt = txt;
    rec.data = txt.join(';');
  } else {
    rec.data = hexText(buf, rd, Math.min(rdEnd, rd + DNS_MAX_HEX));
  }
  cur.pos = rdEnd;
  return rec;
}

/**
 * The DNS message at buf[off, off + len) (a UDP payload; for TCP skip the 2-byte length first).
 * Returns null when the header or a question is malformed; a malformed or missing record ends the
 * record lists early with incomplete = true. At most DNS_MAX_QUESTIONS questions and DNS_MAX_RECORDS
 * records in all are read. Never throws.
 */
export function decodeDns(buf: Uint8Array, off: number, len: number): DnsMessage | null {
  if (!(off >= 0 && len >= 12)) return null;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (off + 12 > end) return null;
  const flags = (buf[off + 2] << 8) | buf[off + 3];
  const qd = (buf[off + 4] << 8) | buf[off + 5];
  const counts = [(buf[off + 6] << 8) | buf[off + 7], (buf[off + 8] << 8) | buf[off + 9], (buf[off + 10] << 8) | buf[off + 11]];
  const msg: DnsMessage = {
    id: (buf[off] << 8) | buf[off + 1],
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    questions: [], answers: [], authority: [], additional: [],
    incomplete: false,
  };
  const cur: Cursor = { pos: off + 12 };
  if (qd > DNS_MAX_QUESTIONS) return null;
  for (let i = 0; i < qd; i++) {
    const name = readName(buf, off, end, cur.pos, cur);
    if (name === null || cur.pos + 4 > end) return null;
    const p = cur.pos;
    const cls = (buf[p + 2] << 8) | buf[p + 3];
    msg.questions.push({ name, type: (buf[p] << 8) | buf[p + 1], class: cls & 0x7fff, unicastResponse: (cls & 0x8000) !== 0 });
    cur.pos = p + 4;
  }
  const lists = [msg.answers, msg.authority, msg.additional];
  let budget = DNS_MAX_RECORDS;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      if (budget-- <= 0) { msg.incomplete = true; return msg; }
      const r = readRecord(buf, off, end, cur);
      if (r === null) { msg.incomplete = true; return msg; }
      lists[s].push(r);
    }
  }
  return msg;
}
