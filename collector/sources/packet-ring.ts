// A single-producer single-consumer ring of decoded packets in shared memory, so one thread
// can read and decode a capture while another counts flows. A record carries the PacketInfo
// fields the flow table and the flow listing read; nothing is allocated per packet on
// either side. Positions wrap at the ring's end (a -1 length marks the jump to the start).

import { L3, type DecodeError, type PacketInfo } from '../decode/packet.js';
import { namesServer } from '../app-layer.js';
import { flowHashHint } from '../flows/flow-table.js';

/** Ring data bytes: room for tens of thousands of records, so neither side waits on every batch. */
export const RING_BYTES = 8 << 20;

// control words (Int32Array over their own SharedArrayBuffer)
const C_WRITE = 0;   // producer's published position
const C_READ = 1;    // consumer's published position
const C_DONE = 2;    // 1 once the producer has published its last record
const C_CONSUMER_WAITING = 3;
const C_PRODUCER_WAITING = 4;
const CTRL_WORDS = 8;
/** progress figures (Float64Array): bytes of the file consumed, frames read */
const P_POSITION = 0;

// record layout, in 32-bit words from the record start (8-byte aligned)
const W_LEN = 0;        // record bytes, multiple of 8; -1 = wrap to 0
const W_WIRELEN = 1;
const D_TS = 1;         // doubles: words 2-3, 4-5, 6-7
const D_SRC_MAC = 2;
const D_DST_MAC = 3;
const W_IPLEN = 8;
const W_SRC4 = 9;
const W_DST4 = 10;
const W_PORTS = 11;     // sport << 16 | dport
const W_L3 = 12;        // vlan (12 bits) | proto << 16 | l3 << 24
const W_FLAGS = 13;     // error | tcpFlags << 8 | hasL4, isFragment, moreFragments bits << 16
const W_FRAG_ICMP = 14; // fragOffset (< 2^16) | icmpType << 16 | icmpCode << 24
const W_FRAG_ID = 15;
const W_PAYLOAD_LEN = 16; // payload bytes carried after the header (and the IPv6 addresses)
const W_FLOW_HASH = 17; // flowHashHint(): the flow table's hash, computed on this side, 0 = none
const HEADER_BYTES = 72;
const V6_BYTES = 32;

// raw-frame records (tryWriteFrame/drainFrames): words from the record start
const F_CAPLEN = 1;
const F_WIRELEN = 2;
const F_LINKTYPE = 3;
const FD_TS = 2;        // double: words 4-5
const FRAME_HEADER_BYTES = 24;

/**
 * TCP payload carried across, at most: enough for any TLS record's ClientHello (the SNI reader
 * stops at the first record) and the HTTP head the Host reader scans.
 */
export const MAX_CARRIED_PAYLOAD = 5 + 65535;

export interface RingMemory {
  data: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  progress: SharedArrayBuffer;
}

/** Smallest ring: four of the largest records, so a wrap never waits for space that cannot come. */
export const MIN_RING_BYTES = 4 * (HEADER_BYTES + V6_BYTES + MAX_CARRIED_PAYLOAD + 8);

export function ringMemory(bytes = RING_BYTES): RingMemory {
  const size = (Math.max(MIN_RING_BYTES, bytes) + 7) & ~7;
  return {
    data: new SharedArrayBuffer(size),
    ctrl: new SharedArrayBuffer(CTRL_WORDS * 4),
    progress: new SharedArrayBuffer(16),
  };
}

/**
 * Only payloads that name a server are carried: the consumer's name search (Pipeline's
 * onTcpPayload) reads the SNI of a payload starting 0x16 and the Host of any other, so this
 * thread runs the same readers first. A payload where they find nothing is sent as empty and
 * the consumer's search sees nothing, as it would have on the real bytes. The search is cheap
 * here (handshakes that are not a ClientHello and non-requests fail in a few bytes) and saves
 * copying every TLS certificate through the ring and reading it again on the other side.
 */
function carriedPayload(p: PacketInfo): number {
  if (p.proto !== 6 || p.payloadLength <= 0 || !namesServer(p)) return 0;
  const n = p.payloadLength;
  return n < MAX_CARRIED_PAYLOAD ? n : MAX_CARRIED_PAYLOAD;
}

function recordBytes(p: PacketInfo, payload: number): number {
  return (HEADER_BYTES + (p.l3 === L3.IPv6 ? V6_BYTES : 0) + payload + 7) & ~7;
}

/** Atomics.waitAsync (Node >= 16) is missing from the ES2022 library typings. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: unknown };
}

/** The views both ends keep over the shared memory. */
abstract class RingEnd {
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  protected readonly bytes: Buffer;
  protected readonly ctrl: Int32Array;
  protected readonly progress: Float64Array;
  protected readonly size: number;

  constructor(mem: RingMemory) {
    this.i32 = new Int32Array(mem.data);
    this.f64 = new Float64Array(mem.data);
    this.bytes = Buffer.from(mem.data);
    this.ctrl = new Int32Array(mem.ctrl);
    this.progress = new Float64Array(mem.progress);
    this.size = mem.data.byteLength;
  }
}

export class RingWriter extends RingEnd {
  private w = 0;
  /** see fits() */
  private r = 0;
  private unpublished = 0;

  /** Append one decoded packet; waits (bounded steps) while the ring is full. */
  write(p: PacketInfo): void {
    const payload = carriedPayload(p);
    const len = recordBytes(p, payload);
    this.put(p, payload, len, this.reserve(len));
  }

  /**
   * Append one decoded packet unless the ring is full: false then, and the packet is not
   * written. A live capture cannot wait for the consumer (the kernel's buffer fills meanwhile
   * and drops without saying which), so it drops here and counts.
   */
  tryWrite(p: PacketInfo): boolean {
    const payload = carriedPayload(p);
    const len = recordBytes(p, payload);
    const w = this.tryReserve(len);
    if (w < 0) return false;
    this.put(p, payload, len, w);
    return true;
  }

  /**
   * The raw-frame form of the ring (live capture): the frame's bytes as captured, for the
   * consumer to decode with everything the pipeline reads (ARP, DNS, DHCP, ND, TCP payloads),
   * not only what a decoded record carries. A ring holds one form or the other, never both.
   * false when full, as tryWrite().
   */
  tryWriteFrame(buf: Buffer, caplen: number, wirelen: number, ts: number, linkType: number, offset = 0): boolean {
    const len = (FRAME_HEADER_BYTES + caplen + 7) & ~7;
    const w = this.tryReserve(len);
    if (w < 0) return false;
    const i = w >> 2, i32 = this.i32;
    i32[i + W_LEN] = len;
    i32[i + F_CAPLEN] = caplen;
    i32[i + F_WIRELEN] = wirelen;
    i32[i + F_LINKTYPE] = linkType;
    this.f64[(w >> 3) + FD_TS] = ts;
    buf.copy(this.bytes, w + FRAME_HEADER_BYTES, offset, offset + caplen);
    this.w += len;
    if (++this.unpublished === 256) this.publish();
    return true;
  }

  /**
   * A record of len bytes (a multiple of 8, its first word the length) that the caller fills
   * through the views (i32, f64, bytes) from the byte position returned; commit() publishes it.
   * Waits, as write() does, while the ring is full. For rings of other records than packets.
   */
  claim(len: number): number {
    const at = this.reserve(len);
    this.i32[at >> 2] = len;
    return at;
  }

  /** The record claim() gave is filled: it goes to the consumer with the next batch. */
  commit(len: number): void {
    this.w += len;
    if (++this.unpublished === 256) this.publish();
  }

  /** the ring's memory, for claim()'s caller */
  get views(): { i32: Int32Array; f64: Float64Array; bytes: Buffer } {
    return { i32: this.i32, f64: this.f64, bytes: this.bytes };
  }

  private put(p: PacketInfo, payload: number, len: number, at: number): void {
    let w = at;
    const v6 = p.l3 === L3.IPv6;
    const i = w >> 2, f = w >> 3, i32 = this.i32, f64 = this.f64;
    i32[i + W_LEN] = len;
    i32[i + W_WIRELEN] = p.wirelen;
    f64[f + D_TS] = p.ts;
    f64[f + D_SRC_MAC] = p.srcMac;
    f64[f + D_DST_MAC] = p.dstMac;
    i32[i + W_IPLEN] = p.ipLen;
    i32[i + W_SRC4] = p.src4;
    i32[i + W_DST4] = p.dst4;
    i32[i + W_PORTS] = (p.sport << 16) | p.dport;
    i32[i + W_L3] = (p.vlan & 0xfff) | (p.proto << 16) | (p.l3 << 24);
    i32[i + W_FLAGS] = p.error | (p.tcpFlags << 8) | ((p.hasL4 ? 1 : 0) | (p.isFragment ? 2 : 0) | (p.moreFragments ? 4 : 0)) << 16;
    i32[i + W_FRAG_ICMP] = p.fragOffset | (p.icmpType << 16) | (p.icmpCode << 24);
    i32[i + W_FRAG_ID] = p.fragId;
    i32[i + W_PAYLOAD_LEN] = payload;
    i32[i + W_FLOW_HASH] = flowHashHint(p);
    w += HEADER_BYTES;
    if (v6) {
      // byte loops: Buffer.copy's call overhead is larger than 32 bytes of copying
      const src = p.buf, dst = this.bytes, so = p.srcOff, d = p.dstOff;
      for (let k = 0; k < 16; k++) { dst[w + k] = src[so + k]; dst[w + 16 + k] = src[d + k]; }
      w += V6_BYTES;
    }
    if (payload > 0) p.buf.copy(this.bytes, w, p.payloadOffset, p.payloadOffset + payload);
    this.w += len;
    if (++this.unpublished === 256) this.publish();
  }

  /** Make written records visible to the consumer (and wake it if it sleeps). */
  publish(): void {
    this.unpublished = 0;
    Atomics.store(this.ctrl, C_WRITE, this.w);
    if (Atomics.load(this.ctrl, C_CONSUMER_WAITING) !== 0) Atomics.notify(this.ctrl, C_WRITE);
  }

  setProgress(position: number): void {
    this.progress[P_POSITION] = position;
  }

  /** The last record is written: publish and mark the end. */
  end(): void {
    this.publish();
    Atomics.store(this.ctrl, C_DONE, 1);
    Atomics.notify(this.ctrl, C_WRITE);
  }

  /** reserve() without waiting: -1 when the consumer has not made room. */
  private tryReserve(len: number): number {
    if (this.w + len + 8 > this.size) {
      if (!this.fitsAtStart(len)) { this.publish(); return -1; }
      this.i32[this.w >> 2] = -1;
      this.w = 0;
      this.publish();
    }
    if (!this.fits(len)) { this.publish(); return -1; }
    return this.w;
  }

  /** Position for a record of len bytes, wrapping and waiting for the consumer as needed. */
  private reserve(len: number): number {
    if (this.w + len + 8 > this.size) {
      // A record never straddles the end: mark the jump, and go on at the start once the
      // consumer has left it (and is not at 0 itself, which would read as empty).
      while (!this.fitsAtStart(len)) this.waitForReader();
      this.i32[this.w >> 2] = -1;
      this.w = 0;
      this.publish();
    }
    // The writer must not catch up with the reader from behind (w === r means empty).
    while (!this.fits(len)) this.waitForReader();
    return this.w;
  }

  // The reader's position as last loaded. The reader only moves forward, so a stale value
  // shows less room than there is, never more: it is reloaded only when it shows too little.
  // Loading it for every record made each record a cache miss on the line the reader writes.

  private fitsAtStart(len: number): boolean {
    if (this.r <= this.w && this.r > len) return true;
    this.r = Atomics.load(this.ctrl, C_READ);
    return this.r <= this.w && this.r > len;
  }

  private fits(len: number): boolean {
    if (this.r <= this.w || this.w + len < this.r) return true;
    this.r = Atomics.load(this.ctrl, C_READ);
    return this.r <= this.w || this.w + len < this.r;
  }

  /** One bounded wait for the consumer to move. */
  private waitForReader(): void {
    this.publish();
    Atomics.store(this.ctrl, C_PRODUCER_WAITING, 1);
    Atomics.wait(this.ctrl, C_READ, Atomics.load(this.ctrl, C_READ), 20);
    Atomics.store(this.ctrl, C_PRODUCER_WAITING, 0);
  }
}

export class RingReader extends RingEnd {
  private r = 0;
  /** bytes released since a waiting producer was last woken */
  private freed = 0;

  /**
   * Hand every published record to onPacket (p refilled in place each time). Returns the number
   * of records, 0 when none were waiting.
   */
  drain(p: PacketInfo, onPacket: (p: PacketInfo) => void): number {
    const w = Atomics.load(this.ctrl, C_WRITE);
    let r = this.r, n = 0;
    const i32 = this.i32, f64 = this.f64;
    while (r !== w) {
      const i = r >> 2;
      const len = i32[i + W_LEN];
      if (len === -1) { r = 0; continue; }
      const f = r >> 3;
      // Every field a record carries is set below; the rest (link details, ARP) stay as
      // reset() left them once, so no per-packet reset.
      p.buf = this.bytes;
      p.frameOffset = r;
      p.caplen = 0;
      p.wirelen = i32[i + W_WIRELEN];
      p.ts = f64[f + D_TS];
      p.srcMac = f64[f + D_SRC_MAC];
      p.dstMac = f64[f + D_DST_MAC];
      p.ipLen = i32[i + W_IPLEN];
      p.src4 = i32[i + W_SRC4] >>> 0;
      p.dst4 = i32[i + W_DST4] >>> 0;
      const ports = i32[i + W_PORTS];
      p.sport = ports >>> 16;
      p.dport = ports & 0xffff;
      const l3 = i32[i + W_L3];
      p.vlan = l3 & 0xfff;
      p.proto = (l3 >>> 16) & 0xff;
      p.l3 = (l3 >>> 24) as L3;
      const fl = i32[i + W_FLAGS];
      p.error = (fl & 0xff) as DecodeError;
      p.tcpFlags = (fl >>> 8) & 0xff;
      p.hasL4 = (fl & (1 << 16)) !== 0;
      p.isFragment = (fl & (2 << 16)) !== 0;
      p.moreFragments = (fl & (4 << 16)) !== 0;
      const fragIcmp = i32[i + W_FRAG_ICMP];
      p.fragOffset = fragIcmp & 0xffff;
      p.icmpType = (fragIcmp >>> 16) & 0xff;
      p.icmpCode = fragIcmp >>> 24;
      p.fragId = i32[i + W_FRAG_ID];
      // the hash was computed on the other side, off this thread's budget
      p.flowHash = i32[i + W_FLOW_HASH];
      let o = r + HEADER_BYTES;
      if (p.l3 === L3.IPv6) {
        p.srcOff = o; p.dstOff = o + 16;
        o += V6_BYTES;
      } else {
        p.srcOff = 0; p.dstOff = 0;
      }
      p.payloadOffset = o;
      p.payloadLength = i32[i + W_PAYLOAD_LEN];
      r += len;
      onPacket(p);
      if ((++n & 255) === 0) this.release(r, false);
    }
    this.release(r, true);
    return n;
  }

  /**
   * Hand every published raw-frame record (tryWriteFrame) to onFrame: the frame is
   * buf[offset, offset + caplen) of the ring's own memory, valid during the call.
   */
  drainFrames(onFrame: (buf: Buffer, offset: number, caplen: number, wirelen: number, ts: number, linkType: number) => void): number {
    const w = Atomics.load(this.ctrl, C_WRITE);
    let r = this.r, n = 0;
    const i32 = this.i32, f64 = this.f64, bytes = this.bytes;
    while (r !== w) {
      const i = r >> 2;
      const len = i32[i + W_LEN];
      if (len === -1) { r = 0; continue; }
      const at = r;
      r += len;
      onFrame(bytes, at + FRAME_HEADER_BYTES, i32[i + F_CAPLEN], i32[i + F_WIRELEN], f64[(at >> 3) + FD_TS], i32[i + F_LINKTYPE]);
      if ((++n & 255) === 0) this.release(r, false);
    }
    this.release(r, true);
    return n;
  }

  /**
   * Hand every published record (claim/commit) to onRecord by its byte position, in order; the
   * record is valid during the call (views).
   */
  drainRecords(onRecord: (at: number) => void): number {
    const w = Atomics.load(this.ctrl, C_WRITE);
    let r = this.r, n = 0;
    const i32 = this.i32;
    while (r !== w) {
      const len = i32[r >> 2];
      if (len === -1) { r = 0; continue; }
      const at = r;
      r += len;
      onRecord(at);
      if ((++n & 255) === 0) this.release(r, false);
    }
    this.release(r, true);
    return n;
  }

  /** the ring's memory, for drainRecords()'s callback */
  get views(): { i32: Int32Array; f64: Float64Array; bytes: Buffer } {
    return { i32: this.i32, f64: this.f64, bytes: this.bytes };
  }

  /** true once the producer has ended and every record was drained. */
  get finished(): boolean {
    return Atomics.load(this.ctrl, C_DONE) === 1 && this.r === Atomics.load(this.ctrl, C_WRITE);
  }

  /** Resolves when records may be waiting (or after timeoutMs): lets the event loop run meanwhile. */
  async waitForData(timeoutMs: number): Promise<void> {
    Atomics.store(this.ctrl, C_CONSUMER_WAITING, 1);
    const w = this.r;
    if (Atomics.load(this.ctrl, C_WRITE) === w && Atomics.load(this.ctrl, C_DONE) === 0) {
      const res = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.ctrl, C_WRITE, w, timeoutMs);
      if (res.async) {
        // A pending waitAsync does not keep the process alive. A producer that ends between
        // the check above and the wait leaves only the timeout to wake this side, and once
        // its thread has exited nothing else may be pending: the process ended mid-run.
        const alive = setTimeout(() => {}, timeoutMs + 50);
        try { await res.value; } finally { clearTimeout(alive); }
      }
    }
    Atomics.store(this.ctrl, C_CONSUMER_WAITING, 0);
  }

  /** Bytes of the file the producer has consumed. */
  position(): number {
    return this.progress[P_POSITION];
  }

  /**
   * The records before r are read. A producer waiting for room (a full ring: this side is the
   * slower) is woken once a quarter of the ring was freed since the last wake, or when this
   * drain ends, not every 256 records: each wake is a futex call on both threads, and woken for
   * a sliver it would fill it and wait again (8,000 wakes in a million-flow replay). What was
   * freed while nobody waited still counts: a producer that began to wait just after a release
   * (its bounded wait took the new position) is then woken at the next one, not 20 ms later.
   */
  private release(r: number, last: boolean): void {
    this.freed += r >= this.r ? r - this.r : this.size - this.r + r;
    this.r = r;
    Atomics.store(this.ctrl, C_READ, r);
    if ((last || this.freed >= this.size >> 2) && Atomics.load(this.ctrl, C_PRODUCER_WAITING) !== 0) {
      this.freed = 0;
      Atomics.notify(this.ctrl, C_READ);
    }
  }
}
