// Flow records as JSON lines, written byte by byte into reused chunks: the text JSON.stringify
// would give for the record's fields in DESIGN.md's order, without a string per field. On a big
// capture the listing has a line per flow, and building those lines as strings (number-to-text,
// then joining and encoding them) cost as much as counting the flows.

import type { FlowRecord } from '../types.js';

const CHUNK_BYTES = 1 << 16;
/** Bytes a line can take besides its strings: keys, 13 numbers, booleans. */
const MAX_FIXED_BYTES = 640;

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const K_START = ascii('{"start":');
const K_END = ascii(',"end":');
const K_PROTO = ascii(',"proto":');
const K_SRC = ascii(',"src":');
const K_SPORT = ascii(',"sport":');
const K_DST = ascii(',"dst":');
const K_DPORT = ascii(',"dport":');
const K_PACKETS = ascii(',"packets":');
const K_BYTES = ascii(',"bytes":');
const K_PACKETS_REV = ascii(',"packetsRev":');
const K_BYTES_REV = ascii(',"bytesRev":');
const K_SRC_MAC = ascii(',"srcMac":');
const K_DST_MAC = ascii(',"dstMac":');
const K_VLAN = ascii(',"vlan":');
const K_TCP_FLAGS = ascii(',"tcpFlags":');
const K_ORIGIN = ascii(',"origin":');
const K_EXPORTER = ascii(',"exporter":');
const K_SERVER_NAME = ascii(',"serverName":');
const K_FINAL_TRUE = ascii(',"final":true,"id":');
const K_FINAL_FALSE = ascii(',"final":false,"id":');

export class FlowJsonLines {
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private pos = 0;
  /** The second whose digits are in secDigits (a capture's flows end in time order, mostly). */
  private sec = -1;
  private readonly secDigits = new Uint8Array(20);
  private secLen = 0;

  /** chunk receives each full chunk; it may keep it (a chunk is never written again). */
  constructor(private readonly chunk: (b: Buffer) => void) {}

  write(r: FlowRecord): void {
    const name = r.serverName;
    // JSON.stringify keeps non-ASCII as is: up to 3 UTF-8 bytes per UTF-16 unit, 6 for an escape
    const need = MAX_FIXED_BYTES + 6 * (r.src.length + r.dst.length + r.srcMac.length + r.dstMac.length +
      r.origin.length + r.exporter.length + (typeof r.proto === 'string' ? r.proto.length : 0) + (name === undefined ? 0 : name.length));
    if (this.pos + need > this.buf.length) this.spill(need);
    this.bytes(K_START); this.ms(r.start);
    this.bytes(K_END); this.ms(r.end);
    this.bytes(K_PROTO);
    if (typeof r.proto === 'number') this.num(r.proto); else this.str(r.proto);
    this.bytes(K_SRC); this.str(r.src);
    this.bytes(K_SPORT); this.num(r.sport);
    this.bytes(K_DST); this.str(r.dst);
    this.bytes(K_DPORT); this.num(r.dport);
    this.bytes(K_PACKETS); this.num(r.packets);
    this.bytes(K_BYTES); this.num(r.bytes);
    this.bytes(K_PACKETS_REV); this.num(r.packetsRev);
    this.bytes(K_BYTES_REV); this.num(r.bytesRev);
    this.bytes(K_SRC_MAC); this.str(r.srcMac);
    this.bytes(K_DST_MAC); this.str(r.dstMac);
    this.bytes(K_VLAN); this.num(r.vlan);
    this.bytes(K_TCP_FLAGS); this.num(r.tcpFlags);
    this.bytes(K_ORIGIN); this.str(r.origin);
    this.bytes(K_EXPORTER); this.str(r.exporter);
    if (name !== undefined) {
      this.bytes(K_SERVER_NAME);
      this.pos += this.buf.write(JSON.stringify(name), this.pos, 'utf8');
    }
    this.bytes(r.final ? K_FINAL_TRUE : K_FINAL_FALSE);
    this.num(r.id);
    this.buf[this.pos++] = 125;
    this.buf[this.pos++] = 10;
  }

  /** Hands over what is buffered. */
  end(): void {
    this.spill(0);
  }

  private spill(need: number): void {
    if (this.pos > 0) this.chunk(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need));
    this.pos = 0;
  }

  private bytes(a: Uint8Array): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < a.length; i++) b[p++] = a[i];
    this.pos = p;
  }

  /** A string JSON needs no escapes for (addresses, MACs, names of our own), as "s"; else stringified. */
  private str(s: string): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = 34;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 34 || c === 92) {
        this.pos += b.write(JSON.stringify(s), this.pos, 'utf8');
        return;
      }
      b[p++] = c;
    }
    b[p++] = 34;
    this.pos = p;
  }

  /** String(n): digits for a whole number below 2^53, String() for anything else. */
  private num(n: number): void {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n)) {
      this.pos += this.buf.write(String(n), this.pos, 'latin1');
      return;
    }
    const b = this.buf;
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    let x = n;
    do {
      const q = Math.floor(x / 10);
      b[--p] = 48 + (x - q * 10);
      x = q;
    } while (x > 0);
  }

  /**
   * String(v) for a time in ms. When v is the double nearest a whole number of microseconds (every
   * microsecond-resolution capture's timestamp), that decimal is the only one with at most three
   * fraction digits that reads back as v, so it is the shortest round-trip text, the one String()
   * writes. Anything else (nanosecond stamps, times before 1970-01-01T00:16:40Z) goes to String().
   */
  private ms(v: number): void {
    const us = Math.round(v * 1000);
    if (us / 1000 !== v || !(us >= 1e6 && us < 9e15)) {
      this.pos += this.buf.write(String(v), this.pos, 'latin1');
      return;
    }
    const sec = Math.floor(us / 1e6);
    if (sec !== this.sec) {
      this.sec = sec;
      const t = String(sec);
      for (let i = 0; i < t.length; i++) this.secDigits[i] = t.charCodeAt(i);
      this.secLen = t.length;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < this.secLen; i++) b[p++] = this.secDigits[i];
    const rest = us - sec * 1e6; // microseconds into the second: 3 ms digits, then the fraction
    const msPart = Math.floor(rest / 1000);
    b[p++] = 48 + Math.floor(msPart / 100);
    b[p++] = 48 + (Math.floor(msPart / 10) % 10);
    b[p++] = 48 + (msPart % 10);
    let frac = rest - msPart * 1000;
    if (frac !== 0) {
      b[p++] = 46;
      let d = 100;
      while (frac !== 0) {
        const q = Math.floor(frac / d);
        b[p++] = 48 + q;
        frac -= q * d;
        d /= 10;
      }
    }
    this.pos = p;
  }
}
