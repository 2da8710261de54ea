// Bidirectional flow table for packet sources: per-flow counters in typed arrays keyed by
// VLAN + protocol + address pair + port pair, idle/active timeouts on packet time, eviction at a cap.
// Objects (FlowStart, FlowRecord, address strings) exist only when a flow starts or ends.

import type { FlowRecord, FlowStart, Origin } from '../types.js';
import { protoName, macString } from '../types.js';
import { PacketInfo, L3, DecodeError, TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST } from '../decode/packet.js';
import { ip4String, ip6String } from '../decode/addr.js';

/**
 * Timeouts in ms of packet time. Defaults follow softflowd's spirit, shortened for an IoT
 * segment where devices open many short flows: a quiet TCP connection is over after 5 min,
 * a closed one lingers 5 s so trailing ACKs and retransmitted FINs still join it.
 */
export interface FlowTableOptions {
  /** TCP flow without FIN both ways / RST; default 300 000 */
  idleTcpMs?: number;
  /** TCP flow after FIN in both directions or a RST; default 5 000 */
  idleTcpClosedMs?: number;
  /** default 60 000 */
  idleUdpMs?: number;
  /** ICMP and ICMPv6; default 30 000 */
  idleIcmpMs?: number;
  /** any other protocol; default 60 000 */
  idleOtherMs?: number;
  /** a flow older than this emits an interim record (final=false) and restarts its counters; default 1 800 000 */
  activeTimeoutMs?: number;
  /** live flows at most; the least recently seen is evicted (emitted as final) to make room. Default 262 144 */
  maxFlows?: number;
  /** how long a first fragment's flow stays findable for later fragments; default 30 000 */
  fragmentTimeoutMs?: number;
  /** fragment map entries (direct-mapped, a collision overwrites); default 4096, rounded up to a power of two */
  fragmentSlots?: number;
  /**
   * Expiry and eviction order flows by last-seen to this resolution (ms): a flow is moved in its
   * list at most once per interval, so idle expiry may run up to this late (a packet arriving
   * after its flow's timeout still starts a new flow exactly) and eviction picks the least
   * recently seen flow to this resolution. Default 1000.
   */
  lruResolutionMs?: number;
  /** packet time between automatic expiry passes inside add(); default 1000 */
  advanceEveryMs?: number;
  /**
   * how long a closed TCP session (FIN both ways or RST) is remembered after its flow ended, so a
   * segment that comes later (a retransmitted FIN, a late TLS alert and the RST it draws) is
   * known as a late segment, not a new connection; default 120 000 (2 MSL)
   */
  lateTcpMs?: number;
  /** how long after host H sent from port Q to a broadcast or multicast address a datagram to H:Q is its reply; default 30 000 */
  discoveryReplyMs?: number;
  /** closed-session and discovery memory entries each (direct-mapped, a collision overwrites); default 4096, rounded up to a power of two */
  rememberSlots?: number;
  origin?: Origin;
}

export interface FlowTableEvents {
  /** absent when nobody acts at a flow's first packet (`segwatch flows`): no event is built then. */
  onStart?(ev: FlowStart): void;
  onRecord(rec: FlowRecord): void;
}

/** active()'s filter: every given field must match (ips and macs: either end of the flow). */
export interface ActiveFlowMatch {
  /** addresses as the records write them (e.g. "192.168.50.21", "fd00::1") */
  ips?: readonly string[];
  /** "aa:bb:cc:00:00:01" */
  macs?: readonly string[];
  /** IP protocol number (6, 17, 1, 58, ...) */
  proto?: number;
  /** either end's port */
  port?: number;
}

export interface FlowTableStats {
  /** live flows */
  active: number;
  /** flows created since construction */
  created: number;
  /** flows pushed out at the cap */
  evicted: number;
  /** flows ended by an idle timeout */
  expired: number;
}

// Timeout classes; each has its own last-seen ordered list so the oldest of each is at its head.
const C_TCP = 0, C_TCP_CLOSED = 1, C_UDP = 2, C_ICMP = 3, C_OTHER = 4, N_CLASSES = 5;
const KL = 10; // key words: A addr (4), B addr (4), ports, vlan/proto/family
// One 128-byte record per flow, in two cache lines: the first holds the key and the int32 state a
// packet reads and writes, the second its doubles. A packet touches the index and these two lines
// only (the last-seen list links, touched once per second per flow, live apart).
const RW = 16, IW = 32, KW = 32;   // a record in doubles, in 32-bit words; key words start the record
const I_CLS = 10, I_FIN = 11, I_FLAGS = 12, I_INIT = 13, I_SEQ = 14; // int32 words 10-15
const R_ID = 8, R_START = 9, R_END = 10, R_PKTS = 11, R_BYTES = 13, R_LISTED = 15; // doubles 8-15
const FW = 10; // fragment key words: src (4), dst (4), proto/family, fragment id
const DW = 6; // discovery key words: sender address (4), port, vlan/family
const NIL = -1;

/**
 * FlowStart.firstPacket: what the first packet of a flow says about who opened it. The flow
 * records keep the first sender as src either way; the detection stage decides the opener.
 */
const FIRST_PLAIN = 0, FIRST_LATE = 1, FIRST_ICMP_ERROR = 2, FIRST_DISCOVERY_REPLY = 3;
const FIRST_NAMES = [undefined, 'late', 'icmp-error', 'discovery-reply'] as const;

export class FlowTable {
  /** 0 when the last add()'s packet came from the initiator, 1 from the responder. */
  lastDir = 0;
  /** 1-based number of the last add()'s packet among its flow's packets in that direction. */
  lastIndex = 0;

  private readonly ev: FlowTableEvents;
  private readonly origin: Origin;
  private readonly timeouts = new Float64Array(N_CLASSES);
  private readonly activeMs: number;
  private readonly fragMs: number;
  private readonly advanceEvery: number;
  private readonly relistMs: number;
  private readonly cap: number;
  /** a power of two above every slot number, for flush()'s sort keys */
  private readonly slotSpan: number;

  // hash index: slot + 1, 0 = empty; linear probing with backward-shift deletion
  /** open-addressing index: slot + 1, 0 = empty. Grows with the live flows (kept under half full) so a
   * small segment's index stays in the CPU cache instead of spanning megabytes of random probes. */
  private index: Int32Array;
  private mask: number;
  private readonly maxIndex: number;

  // Hot per-flow numbers sit together in one record of RW doubles (two cache lines) so a packet
  // touches few lines; key words and hash in another; cold fields (strings, ports) apart.
  private readonly f: Float64Array;
  private readonly n: Int32Array;
  private readonly key: Uint32Array;
  /** last-seen list links: prev, next per slot */
  private readonly links: Int32Array;
  private readonly sure: Uint8Array;
  private readonly proto: Uint8Array;
  private readonly vlan: Uint16Array;
  private readonly sport: Uint16Array;     // initiator's port
  private readonly dport: Uint16Array;
  // the first packet's facts, for startOf(): written once per flow, read only on demand
  private readonly firstTs: Float64Array;
  private readonly firstFlags: Uint8Array;
  private readonly firstBytes: Int32Array;
  private readonly firstKind: Uint8Array;
  private readonly srcStr: string[];
  private readonly dstStr: string[];
  private readonly srcMacStr: string[];
  private readonly dstMacStr: string[];
  private readonly names: (string | undefined)[];

  private readonly heads = new Int32Array(N_CLASSES).fill(NIL);
  private readonly tails = new Int32Array(N_CLASSES).fill(NIL);
  private readonly freeNext: Int32Array;
  /** freed slots, last freed first */
  private freeHead = NIL;
  /** slots below this have been used; the ones above are free without being on the list */
  private fresh = 0;
  private live = 0;
  private nextId = 1;
  private nextAdvance = -Infinity;
  private lastSlot = NIL;
  private nCreated = 0;
  private nEvicted = 0;
  private nExpired = 0;

  // fragment map, direct-mapped
  private readonly fragKey: Uint32Array;
  private readonly fragSlot: Int32Array;
  private readonly fragFlow: Float64Array;
  private readonly fragTs: Float64Array;
  private readonly fragMask: number;

  // closed TCP sessions (their keys), and hosts' recent sends to a group address (their group flow)
  private readonly lateMs: number;
  private readonly replyMs: number;
  private readonly closedKey: Uint32Array;
  private readonly closedTs: Float64Array;
  private readonly discKey: Uint32Array;
  private readonly discSlot: Int32Array;
  private readonly discFlow: Float64Array;
  private readonly rememberMask: number;

  // scratch for the packet being added: key words, and the unordered addresses
  private readonly k = new Uint32Array(KL);
  private readonly sw = new Uint32Array(4);
  private readonly macs = new Map<number, string>();
  private readonly ip4s = new Map<number, string>();
  private readonly dw = new Uint32Array(4);

  constructor(opts: FlowTableOptions, events: FlowTableEvents) {
    this.ev = events;
    this.origin = opts.origin ?? 'pcap';
    this.timeouts[C_TCP] = opts.idleTcpMs ?? 300_000;
    this.timeouts[C_TCP_CLOSED] = opts.idleTcpClosedMs ?? 5_000;
    this.timeouts[C_UDP] = opts.idleUdpMs ?? 60_000;
    this.timeouts[C_ICMP] = opts.idleIcmpMs ?? 30_000;
    this.timeouts[C_OTHER] = opts.idleOtherMs ?? 60_000;
    this.activeMs = opts.activeTimeoutMs ?? 1_800_000;
    this.fragMs = opts.fragmentTimeoutMs ?? 30_000;
    this.advanceEvery = opts.advanceEveryMs ?? 1000;
    this.relistMs = opts.lruResolutionMs ?? 1000;
    const cap = Math.max(1, Math.floor(opts.maxFlows ?? 262_144));
    this.cap = cap;
    let span = 1;
    while (span < cap) span *= 2;
    this.slotSpan = span;
    let size = 16;
    while (size < cap * 2) size *= 2;
    this.maxIndex = size;
    this.index = new Int32Array(Math.min(size, 4096));
    this.mask = this.index.length - 1;
    this.f = new Float64Array(cap * RW);
    this.n = new Int32Array(this.f.buffer);
    this.key = new Uint32Array(this.f.buffer);
    this.links = new Int32Array(cap * 2);
    this.sure = new Uint8Array(cap);
    this.proto = new Uint8Array(cap);
    this.vlan = new Uint16Array(cap);
    this.sport = new Uint16Array(cap);
    this.dport = new Uint16Array(cap);
    this.firstTs = new Float64Array(cap);
    this.firstFlags = new Uint8Array(cap);
    this.firstBytes = new Int32Array(cap);
    this.firstKind = new Uint8Array(cap);
    // The string columns grow as slots are first used (create()): filling 5 x 262,144 entries up
    // front was a tenth of a small capture's run. The typed arrays cost nothing until touched.
    this.srcStr = [];
    this.dstStr = [];
    this.srcMacStr = [];
    this.dstMacStr = [];
    this.names = [];
    this.freeNext = new Int32Array(cap);
    let fsize = 16;
    while (fsize < (opts.fragmentSlots ?? 4096)) fsize *= 2;
    this.fragKey = new Uint32Array(fsize * FW);
    this.fragSlot = new Int32Array(fsize).fill(NIL);
    this.fragFlow = new Float64Array(fsize);
    this.fragTs = new Float64Array(fsize);
    this.fragMask = fsize - 1;
    this.lateMs = opts.lateTcpMs ?? 120_000;
    this.replyMs = opts.discoveryReplyMs ?? 30_000;
    let rsize = 16;
    while (rsize < (opts.rememberSlots ?? 4096)) rsize *= 2;
    this.closedKey = new Uint32Array(rsize * KL);
    this.closedTs = new Float64Array(rsize).fill(-Infinity);
    this.discKey = new Uint32Array(rsize * DW);
    this.discSlot = new Int32Array(rsize).fill(NIL);
    this.discFlow = new Float64Array(rsize);
    this.rememberMask = rsize - 1;
  }

  /**
   * Count a decoded packet. Returns the flow id, or -1 when the packet carries no flow
   * (not IP, ARP, or an IP header too broken to give addresses). Sets lastDir/lastIndex.
   */
  add(p: PacketInfo): number {
    if (p.l3 !== L3.IPv4 && p.l3 !== L3.IPv6) return -1;
    if (p.error !== DecodeError.None && (p.ipLen === 0 || p.error === DecodeError.BadIpVersion ||
      p.error === DecodeError.BadIpHeaderLength || p.error === DecodeError.BadIpTotalLength)) return -1;
    const ts = p.ts;
    if (ts >= this.nextAdvance) this.advance(ts);

    const v4 = p.l3 === L3.IPv4;
    // sw/dw (the unordered addresses) serve IPv6 keys and fragments; an IPv4 key is built straight from p.
    if (!v4 || p.isFragment) this.loadAddrs(p);
    // Later fragments have no ports: find the flow their first fragment went to.
    if (p.isFragment && p.fragOffset > 0) {
      const slot = this.fragLookup(p, ts);
      if (slot !== NIL) {
        const side = this.sideOf(slot);
        return this.count(slot, side === this.n[slot * IW + I_INIT] ? 0 : 1, p);
      }
    }
    const sport = p.hasL4 && p.proto !== 1 && p.proto !== 58 ? p.sport : 0;
    const dport = p.hasL4 && p.proto !== 1 && p.proto !== 58 ? p.dport : 0;
    const side = v4 ? this.buildKey4(p, sport, dport) : this.buildKey(p, sport, dport);
    const h = p.flowHash !== 0 ? p.flowHash : hashKey(this.k);
    let slot = this.find(h);
    const flags = p.proto === 6 && p.hasL4 ? p.tcpFlags : 0;
    if (slot !== NIL) {
      // Checked here too so expiry is exact, not only at the 1 s advance() granularity.
      const idle = ts - this.f[slot * RW + R_END] >= this.timeouts[this.n[slot * IW + I_CLS]];
      // A fresh SYN on a closed connection is a new connection reusing the ports.
      const reopened = this.n[slot * IW + I_CLS] === C_TCP_CLOSED && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
      if (idle || reopened) {
        if (idle) this.nExpired++;
        this.finish(slot, true);
        slot = NIL;
      }
    }
    if (slot === NIL) slot = this.create(p, h, side, sport, dport, flags);
    else {
      const dir = side === this.n[slot * IW + I_INIT] ? 0 : 1;
      this.count(slot, dir, p);
    }
    if (p.isFragment && p.fragOffset === 0) this.fragRemember(p, slot, ts);
    return this.f[slot * RW + R_ID];
  }

  /** Expire flows idle at packet time nowMs (ms since epoch). The pipeline calls it on a timer when live. */
  advance(nowMs: number): void {
    this.nextAdvance = nowMs + this.advanceEvery;
    for (let c = 0; c < N_CLASSES; c++) {
      const t = this.timeouts[c];
      // Each list is ordered by last-seen, so the walk stops at the first flow still alive.
      let s = this.heads[c];
      while (s !== NIL && nowMs - this.f[s * RW + R_END] >= t) {
        const n = this.links[s * 2 + 1];
        this.nExpired++;
        this.finish(s, true);
        s = n;
      }
    }
  }

  /** Attach a server name (TLS SNI, HTTP Host) to a live flow; carried on its records as serverName. */
  setName(flowId: number, name: string): void {
    let slot = this.lastSlot;
    if (slot === NIL || this.f[slot * RW + R_ID] !== flowId) slot = this.slotOf(flowId);
    if (slot !== NIL) this.names[slot] = name;
  }

  /** Emit every live flow as final, oldest id first (end of capture, shutdown). */
  flush(): void {
    // id * slotSpan + slot, sorted as numbers: a native typed-array sort instead of a comparator
    // call per compare; exact while id * slotSpan stays below 2^53
    const keys = new Float64Array(this.live);
    const mul = this.slotSpan;
    let n = 0;
    for (let c = 0; c < N_CLASSES; c++) for (let s = this.heads[c]; s !== NIL; s = this.links[s * 2 + 1]) keys[n++] = this.f[s * RW + R_ID] * mul + s;
    keys.sort();
    for (let i = 0; i < n; i++) this.finish(keys[i] % mul, true);
  }

  stats(): FlowTableStats {
    return { active: this.live, created: this.nCreated, evicted: this.nEvicted, expired: this.nExpired };
  }

  // ---- key handling --------------------------------------------------------------

  /** Packet addresses into sw/dw as four words each; IPv4 as IPv4-mapped IPv6 (family kept in the key). */
  private loadAddrs(p: PacketInfo): void {
    const sw = this.sw, dw = this.dw;
    if (p.l3 === L3.IPv4) {
      sw[0] = 0; sw[1] = 0; sw[2] = 0xffff; sw[3] = p.src4;
      dw[0] = 0; dw[1] = 0; dw[2] = 0xffff; dw[3] = p.dst4;
    } else {
      const b = p.buf;
      let o = p.srcOff;
      for (let i = 0; i < 4; i++, o += 4) sw[i] = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
      o = p.dstOff;
      for (let i = 0; i < 4; i++, o += 4) dw[i] = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
    }
  }

  /** Fills k with the ordered key; returns the packet sender's side (0 = A, 1 = B). */
  private buildKey(p: PacketInfo, sport: number, dport: number): number {
    const k = this.k, sw = this.sw, dw = this.dw;
    let cmp = 0;
    for (let i = 0; i < 4 && cmp === 0; i++) cmp = sw[i] < dw[i] ? -1 : sw[i] > dw[i] ? 1 : 0;
    if (cmp === 0) cmp = sport < dport ? -1 : sport > dport ? 1 : 0;
    const side = cmp > 0 ? 1 : 0;
    const a = side ? dw : sw, b = side ? sw : dw;
    k[0] = a[0]; k[1] = a[1]; k[2] = a[2]; k[3] = a[3];
    k[4] = b[0]; k[5] = b[1]; k[6] = b[2]; k[7] = b[3];
    k[8] = side ? ((dport << 16) | sport) >>> 0 : ((sport << 16) | dport) >>> 0;
    k[9] = (((p.vlan & 0xfff) << 16) | ((p.proto & 255) << 8) | (p.l3 === L3.IPv4 ? 4 : 6)) >>> 0;
    return side;
  }

  /**
   * buildKey() for IPv4 without the word-by-word compare: the same key (IPv4-mapped words), since
   * fragments and IPv6 go through buildKey() and both must land on the same flow.
   */
  private buildKey4(p: PacketInfo, sport: number, dport: number): number {
    const k = this.k, s = p.src4, d = p.dst4;
    const side = s > d || (s === d && sport > dport) ? 1 : 0;
    k[0] = 0; k[1] = 0; k[2] = 0xffff; k[3] = side ? d : s;
    k[4] = 0; k[5] = 0; k[6] = 0xffff; k[7] = side ? s : d;
    k[8] = side ? ((dport << 16) | sport) >>> 0 : ((sport << 16) | dport) >>> 0;
    k[9] = (((p.vlan & 0xfff) << 16) | ((p.proto & 255) << 8) | 4) >>> 0;
    return side;
  }

  /** Which key side the packet's source address is on (for fragments, whose ports are unknown). */
  private sideOf(slot: number): number {
    const base = slot * KW, key = this.key, sw = this.sw;
    return key[base] === sw[0] && key[base + 1] === sw[1] && key[base + 2] === sw[2] && key[base + 3] === sw[3] ? 0 : 1;
  }

  private find(h: number): number {
    const index = this.index, mask = this.mask, key = this.key, k = this.k;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = index[i];
      if (e === 0) return NIL;
      const s = e - 1;
      const base = s * KW;
      // The words that differ most first; with the family (in word 9) equal to 4, words 0-2 and
      // 4-6 are the IPv4-mapped prefix on both sides and need no compare.
      if (key[base + 9] === k[9] && key[base + 8] === k[8] && key[base + 3] === k[3] && key[base + 7] === k[7] &&
        ((k[9] & 0xff) === 4 || (key[base] === k[0] && key[base + 1] === k[1] && key[base + 2] === k[2] &&
        key[base + 4] === k[4] && key[base + 5] === k[5] && key[base + 6] === k[6]))) return s;
    }
  }

  private growIndex(): void {
    this.index = new Int32Array(this.index.length * 2);
    this.mask = this.index.length - 1;
    for (let c = 0; c < N_CLASSES; c++) {
      for (let s = this.heads[c]; s !== NIL; s = this.links[s * 2 + 1]) this.indexInsert(s, hashAt(this.key, s * KW));
    }
  }

  private indexInsert(slot: number, h: number): void {
    const index = this.index, mask = this.mask;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** Backward-shift deletion keeps probe chains intact without tombstones. */
  private indexRemove(slot: number): void {
    const index = this.index, mask = this.mask;
    let i = hashAt(this.key, slot * KW) & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = index[j];
      if (e === 0) break;
      const home = hashAt(this.key, (e - 1) * KW) & mask;
      // move e into the hole at i unless its home lies cyclically in (i, j]
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) { index[i] = e; i = j; }
    }
    index[i] = 0;
  }

  // ---- flow life -----------------------------------------------------------------

  // ts is read from p, not passed: a fractional double argument to a call that is not inlined
  // is boxed, one heap number per packet.
  private create(p: PacketInfo, h: number, side: number, sport: number, dport: number, flags: number): number {
    const ts = p.ts;
    if (this.freeHead === NIL) {
      if (this.fresh < this.cap) {
        const slot = this.fresh++;
        this.srcStr.push(''); this.dstStr.push(''); this.srcMacStr.push(''); this.dstMacStr.push(''); this.names.push(undefined);
        this.freeNext[slot] = NIL;
        this.freeHead = slot;
      } else this.evictOldest();
    }
    const slot = this.freeHead;
    this.freeHead = this.freeNext[slot];
    this.live++;
    if (this.live * 2 > this.index.length && this.index.length < this.maxIndex) this.growIndex();
    this.nCreated++;
    const base = slot * KW, k = this.k;
    for (let i = 0; i < KL; i++) this.key[base + i] = k[i];
    this.indexInsert(slot, h);
    const id = this.nextId++;
    this.f[slot * RW + R_ID] = id;
    // SYN: sender initiates; SYN-ACK seen first: the receiver did; otherwise the first sender.
    const synAck = (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
    const syn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    const rev = synAck;
    this.n[slot * IW + I_INIT] = rev ? side ^ 1 : side;
    this.sure[slot] = syn || synAck ? 1 : 0;
    this.proto[slot] = p.proto;
    this.vlan[slot] = p.vlan;
    this.sport[slot] = rev ? dport : sport;
    // ICMP: type and code of the first packet as NetFlow carries them (v5 dstport, IPFIX
    // icmpTypeCode), so a policy can name ICMP types; the key stays port-less, so an echo
    // request and its reply are still one flow
    this.dport[slot] = (p.proto === 1 || p.proto === 58) && p.hasL4 ? (p.icmpType << 8) | p.icmpCode : rev ? sport : dport;
    this.n[slot * IW + I_FIN] = 0;
    this.n[slot * IW + I_FLAGS] = 0;
    this.f[slot * RW + R_PKTS] = 0; this.f[slot * RW + R_PKTS + 1] = 0;
    this.f[slot * RW + R_BYTES] = 0; this.f[slot * RW + R_BYTES + 1] = 0;
    this.n[slot * IW + I_SEQ] = 0; this.n[slot * IW + I_SEQ + 1] = 0;
    this.f[slot * RW + R_START] = ts;
    this.f[slot * RW + R_END] = ts;
    const c = p.proto === 6 ? C_TCP : p.proto === 17 ? C_UDP : p.proto === 1 || p.proto === 58 ? C_ICMP : C_OTHER;
    this.n[slot * IW + I_CLS] = c;
    this.append(slot, c);
    const s = p.l3 === L3.IPv4 ? this.ip4Text(p.src4) : ip6String(p.buf, p.srcOff);
    const d = p.l3 === L3.IPv4 ? this.ip4Text(p.dst4) : ip6String(p.buf, p.dstOff);
    const sm = this.macText(p.srcMac), dm = this.macText(p.dstMac);
    this.srcStr[slot] = rev ? d : s;
    this.dstStr[slot] = rev ? s : d;
    this.srcMacStr[slot] = rev ? dm : sm;
    this.dstMacStr[slot] = rev ? sm : dm;
    this.names[slot] = undefined;
    this.firstTs[slot] = ts;
    this.firstFlags[slot] = flags;
    this.firstBytes[slot] = p.ipLen;
    this.firstKind[slot] = this.firstKindOf(p, h, flags, slot);
    if (this.ev.onStart) this.ev.onStart(this.startAt(slot));
    this.count(slot, rev ? 1 : 0, p);
    return slot;
  }

  private count(slot: number, dir: number, p: PacketInfo): number {
    const ts = p.ts;
    if (ts - this.f[slot * RW + R_START] >= this.activeMs) {
      this.emit(slot, false);
      this.f[slot * RW + R_PKTS] = 0; this.f[slot * RW + R_PKTS + 1] = 0;
      this.f[slot * RW + R_BYTES] = 0; this.f[slot * RW + R_BYTES + 1] = 0;
      this.n[slot * IW + I_FLAGS] = 0;
      this.f[slot * RW + R_START] = ts;
    }
    const r = slot * RW;
    this.f[r + R_PKTS + dir]++;
    this.f[r + R_BYTES + dir] += p.ipLen;
    const n = ++this.n[slot * IW + I_SEQ + dir];
    if (ts > this.f[slot * RW + R_END]) this.f[slot * RW + R_END] = ts;
    if (p.proto === 6 && p.hasL4) {
      const f = p.tcpFlags;
      this.n[slot * IW + I_FLAGS] |= f;
      if (this.n[slot * IW + I_CLS] === C_TCP) {
        if (f & TCP_FIN) this.n[slot * IW + I_FIN] |= 1 << dir;
        if ((f & TCP_RST) || this.n[slot * IW + I_FIN] === 3) {
          this.unlink(slot);
          this.n[slot * IW + I_CLS] = C_TCP_CLOSED;
          this.append(slot, C_TCP_CLOSED);
        }
      }
    }
    // Re-list at most once per lruResolutionMs: each move touches two neighbours' cache lines,
    // and the lists only need last-seen order to that resolution.
    if (ts - this.f[r + R_LISTED] >= this.relistMs) {
      const c = this.n[slot * IW + I_CLS];
      if (this.tails[c] !== slot) { this.unlink(slot); this.append(slot, c); } else this.f[r + R_LISTED] = ts;
    }
    this.lastDir = dir;
    this.lastIndex = n;
    this.lastSlot = slot;
    return this.f[slot * RW + R_ID];
  }

  /**
   * The FlowStart of a live flow, as onStart gave it (built again from the table's columns),
   * or undefined when the flow has ended. For a stage that needs a flow's facts long after
   * its start but only for a few flows: keeping every FlowStart until its flow ended kept a
   * young object per flow alive through every scavenge.
   */
  startOf(flowId: number): FlowStart | undefined {
    let slot = this.lastSlot;
    if (slot === NIL || this.f[slot * RW + R_ID] !== flowId) slot = this.slotOf(flowId);
    return slot === NIL ? undefined : this.startAt(slot);
  }

  private startAt(slot: number): FlowStart {
    return {
      id: this.f[slot * RW + R_ID], time: this.firstTs[slot], proto: protoName(this.proto[slot]),
      src: this.srcStr[slot], sport: this.sport[slot], dst: this.dstStr[slot], dport: this.dport[slot],
      srcMac: this.srcMacStr[slot], dstMac: this.dstMacStr[slot], vlan: this.vlan[slot], tcpFlags: this.firstFlags[slot],
      bytes: this.firstBytes[slot], origin: this.origin, exporter: '', sureInitiator: this.sure[slot] === 1,
      firstPacket: FIRST_NAMES[this.firstKind[slot]],
    };
  }

  /**
   * IPv4 text, cached: a segment's devices, resolvers and servers recur on flow after flow, and a
   * shared string costs neither the formatting nor a young-generation copy while the flow lives.
   */
  private ip4Text(a: number): string {
    return cachedText(this.ip4s, a, ip4String);
  }

  /** MAC text, cached: a segment has few MACs (the gateway's is on nearly every flow). */
  private macText(mac: number): string {
    return cachedText(this.macs, mac, macString);
  }

  private evictOldest(): void {
    let best = NIL;
    for (let c = 0; c < N_CLASSES; c++) {
      const h = this.heads[c];
      if (h !== NIL && (best === NIL || this.f[h * RW + R_END] < this.f[best * RW + R_END])) best = h;
    }
    this.nEvicted++;
    this.finish(best, true);
  }

  /** Emit the flow's record and free its slot. */
  private finish(slot: number, final: boolean): void {
    this.emit(slot, final);
    if (this.n[slot * IW + I_CLS] === C_TCP_CLOSED) this.rememberClosed(slot);
    this.unlink(slot);
    this.indexRemove(slot);
    this.srcStr[slot] = ''; this.dstStr[slot] = ''; this.srcMacStr[slot] = ''; this.dstMacStr[slot] = '';
    this.names[slot] = undefined;
    this.f[slot * RW + R_ID] = 0;
    if (this.lastSlot === slot) this.lastSlot = NIL;
    this.freeNext[slot] = this.freeHead;
    this.freeHead = slot;
    this.live--;
  }

  private emit(slot: number, final: boolean): void {
    this.ev.onRecord(this.recordAt(slot, final));
  }

  /**
   * Up to `limit` live flows as interim records (final false; counters so far), most recently
   * seen first within each timeout class, for a reader such as the API. Read-only: the table
   * is not changed and add() never calls it; `match` is tested on the table's columns before a
   * record is built, so flows it refuses cost no allocation.
   */
  active(limit: number, match: ActiveFlowMatch = {}): FlowRecord[] {
    const out: FlowRecord[] = [];
    const want = Math.max(0, Math.floor(limit));
    const ips = match.ips, macs = match.macs, proto = match.proto, port = match.port;
    for (let c = 0; c < N_CLASSES && out.length < want; c++) {
      for (let s = this.tails[c]; s !== NIL && out.length < want; s = this.links[s * 2]) {
        if (proto !== undefined && this.proto[s] !== proto) continue;
        if (port !== undefined && this.sport[s] !== port && this.dport[s] !== port) continue;
        if (ips !== undefined && !ips.includes(this.srcStr[s]) && !ips.includes(this.dstStr[s])) continue;
        if (macs !== undefined && !macs.includes(this.srcMacStr[s]) && !macs.includes(this.dstMacStr[s])) continue;
        out.push(this.recordAt(s, false));
      }
    }
    return out;
  }

  private recordAt(slot: number, final: boolean): FlowRecord {
    const rec: FlowRecord = {
      id: this.f[slot * RW + R_ID], start: this.f[slot * RW + R_START], end: this.f[slot * RW + R_END], proto: protoName(this.proto[slot]),
      src: this.srcStr[slot], sport: this.sport[slot], dst: this.dstStr[slot], dport: this.dport[slot],
      packets: this.f[slot * RW + R_PKTS], bytes: this.f[slot * RW + R_BYTES],
      packetsRev: this.f[slot * RW + R_PKTS + 1], bytesRev: this.f[slot * RW + R_BYTES + 1],
      srcMac: this.srcMacStr[slot], dstMac: this.dstMacStr[slot], vlan: this.vlan[slot],
      tcpFlags: this.n[slot * IW + I_FLAGS], origin: this.origin, exporter: '', final,
    };
    const name = this.names[slot];
    if (name !== undefined) rec.serverName = name;
    return rec;
  }

  private append(slot: number, c: number): void {
    const t = this.tails[c];
    this.links[slot * 2] = t;
    this.links[slot * 2 + 1] = NIL;
    this.f[slot * RW + R_LISTED] = this.f[slot * RW + R_END];
    if (t === NIL) this.heads[c] = slot; else this.links[t * 2 + 1] = slot;
    this.tails[c] = slot;
  }

  private unlink(slot: number): void {
    const c = this.n[slot * IW + I_CLS], pv = this.links[slot * 2], nx = this.links[slot * 2 + 1];
    if (pv === NIL) this.heads[c] = nx; else this.links[pv * 2 + 1] = nx;
    if (nx === NIL) this.tails[c] = pv; else this.links[nx * 2] = pv;
    this.links[slot * 2] = NIL; this.links[slot * 2 + 1] = NIL;
  }

  private slotOf(flowId: number): number {
    for (let c = 0; c < N_CLASSES; c++) for (let s = this.heads[c]; s !== NIL; s = this.links[s * 2 + 1]) if (this.f[s * RW + R_ID] === flowId) return s;
    return NIL;
  }

  // ---- who opened it: late segments, ICMP errors, discovery replies ----------------
  // Written and read once per flow (at its start or end), never per packet.

  /** FIRST_* for a flow created from p (key in k, hash h, now in slot). */
  private firstKindOf(p: PacketInfo, h: number, flags: number, slot: number): number {
    const proto = p.proto;
    if (proto === 6) return (flags & TCP_SYN) === 0 && this.closedRecently(h, p.ts) ? FIRST_LATE : FIRST_PLAIN;
    if (!p.hasL4) return FIRST_PLAIN;
    if (proto === 17) {
      this.loadAddrs(p);
      if (groupDestination(p)) {
        this.rememberDiscovery(p, slot);
        return FIRST_PLAIN;
      }
      return this.answersDiscovery(p) ? FIRST_DISCOVERY_REPLY : FIRST_PLAIN;
    }
    const t = p.icmpType;
    // ICMP: destination unreachable, time exceeded, parameter problem; ICMPv6: the same and packet too big
    if (proto === 1) return t === 3 || t === 11 || t === 12 ? FIRST_ICMP_ERROR : FIRST_PLAIN;
    if (proto === 58) return t >= 1 && t <= 4 ? FIRST_ICMP_ERROR : FIRST_PLAIN;
    return FIRST_PLAIN;
  }

  private rememberClosed(slot: number): void {
    const base = slot * KW, e = hashAt(this.key, base) & this.rememberMask, ck = this.closedKey;
    for (let i = 0; i < KL; i++) ck[e * KL + i] = this.key[base + i];
    this.closedTs[e] = this.f[slot * RW + R_END];
  }

  /** The key in k belongs to a TCP session that closed at most lateMs ago. */
  private closedRecently(h: number, ts: number): boolean {
    const e = h & this.rememberMask, ck = this.closedKey, k = this.k;
    if (!(ts - this.closedTs[e] <= this.lateMs)) return false;
    for (let i = 0; i < KL; i++) if (ck[e * KL + i] !== k[i]) return false;
    return true;
  }

  /** Slot of the discovery entry for address words a, port, vlan/family word vf; its key written to discKey. */
  private discEntry(a: Uint32Array, port: number, vf: number): number {
    return finalHash(mix(mix(mix(mix(mix(0x811c9dc5, a[0] ^ a[1]), a[2]), a[3]), port), vf)) & this.rememberMask;
  }

  /** p (sw/dw loaded) goes to a group address: its sender may get replies at its source port. */
  private rememberDiscovery(p: PacketInfo, slot: number): void {
    const vf = ((p.vlan & 0xfff) << 16 | (p.l3 === L3.IPv4 ? 4 : 6)) >>> 0;
    const e = this.discEntry(this.sw, p.sport, vf), b = e * DW, dk = this.discKey, sw = this.sw;
    dk[b] = sw[0]; dk[b + 1] = sw[1]; dk[b + 2] = sw[2]; dk[b + 3] = sw[3]; dk[b + 4] = p.sport; dk[b + 5] = vf;
    this.discSlot[e] = slot;
    this.discFlow[e] = this.f[slot * RW + R_ID];
  }

  /**
   * p (sw/dw loaded) goes to host H's port Q, and H sent from Q to a group address at most
   * replyMs ago: the last packet of H's group flow, which only H's sends join, says when.
   */
  private answersDiscovery(p: PacketInfo): boolean {
    const vf = ((p.vlan & 0xfff) << 16 | (p.l3 === L3.IPv4 ? 4 : 6)) >>> 0;
    const e = this.discEntry(this.dw, p.dport, vf), b = e * DW, dk = this.discKey, dw = this.dw;
    const g = this.discSlot[e];
    if (g === NIL || this.f[g * RW + R_ID] !== this.discFlow[e]) return false;
    if (dk[b] !== dw[0] || dk[b + 1] !== dw[1] || dk[b + 2] !== dw[2] || dk[b + 3] !== dw[3] || dk[b + 4] !== p.dport || dk[b + 5] !== vf) return false;
    return p.ts - this.f[g * RW + R_END] <= this.replyMs;
  }

  // ---- fragments -----------------------------------------------------------------
  // A first fragment (offset 0, ports known) records (src, dst, proto, id) -> flow; later
  // fragments look it up. A later fragment that arrives before its first, or after the entry
  // was overwritten or expired, is counted in the ports-0 flow of the address pair.

  private fragHash(p: PacketInfo): number {
    const sw = this.sw, dw = this.dw;
    let h = Math.imul(sw[3] ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(dw[3], 0xc2b2ae35);
    h ^= Math.imul(sw[0] ^ sw[1] ^ sw[2] ^ dw[0] ^ dw[1] ^ dw[2], 0x27d4eb2f);
    h ^= Math.imul(p.fragId ^ (p.proto << 24), 0x165667b1);
    h ^= h >>> 15;
    return h & this.fragMask;
  }

  private fragRemember(p: PacketInfo, slot: number, ts: number): void {
    const e = this.fragHash(p), base = e * FW, fk = this.fragKey, sw = this.sw, dw = this.dw;
    fk[base] = sw[0]; fk[base + 1] = sw[1]; fk[base + 2] = sw[2]; fk[base + 3] = sw[3];
    fk[base + 4] = dw[0]; fk[base + 5] = dw[1]; fk[base + 6] = dw[2]; fk[base + 7] = dw[3];
    fk[base + 8] = p.proto; fk[base + 9] = p.fragId >>> 0;
    this.fragSlot[e] = slot;
    this.fragFlow[e] = this.f[slot * RW + R_ID];
    this.fragTs[e] = ts;
  }

  private fragLookup(p: PacketInfo, ts: number): number {
    const e = this.fragHash(p), base = e * FW, fk = this.fragKey, sw = this.sw, dw = this.dw;
    const slot = this.fragSlot[e];
    if (slot === NIL || ts - this.fragTs[e] > this.fragMs || this.f[slot * RW + R_ID] !== this.fragFlow[e]) return NIL;
    if (fk[base] !== sw[0] || fk[base + 1] !== sw[1] || fk[base + 2] !== sw[2] || fk[base + 3] !== sw[3] ||
      fk[base + 4] !== dw[0] || fk[base + 5] !== dw[1] || fk[base + 6] !== dw[2] || fk[base + 7] !== dw[3] ||
      fk[base + 8] !== p.proto || fk[base + 9] !== p.fragId >>> 0) return NIL;
    // the flow may have gone idle since the first fragment
    if (ts - this.f[slot * RW + R_END] >= this.timeouts[this.n[slot * IW + I_CLS]]) return NIL;
    return slot;
  }

  /** Hash-table load, for tests and the bench: live flows and index size. */
  get capacity(): number { return this.cap; }
}

/** p's destination is a broadcast or multicast address (IP, or the frame's MAC: a subnet's broadcast). */
function groupDestination(p: PacketInfo): boolean {
  if (p.l3 === L3.IPv4) {
    const d = p.dst4;
    if (d >>> 28 === 14 || d === 0xffffffff) return true;
  } else if (p.buf[p.dstOff] === 0xff) return true;
  // the group bit of the first octet of a 48-bit MAC; -1 = no link layer
  return p.dstMac >= 0 && Math.floor(p.dstMac / 0x10000000000) % 2 === 1;
}

/** format(key), kept in cache (emptied when it reaches 65,536 entries, so it stays bounded). */
function cachedText(cache: Map<number, string>, key: number, format: (key: number) => string): string {
  let s = cache.get(key);
  if (s === undefined) {
    s = format(key);
    if (cache.size >= 65_536) cache.clear();
    cache.set(key, s);
  }
  return s;
}

/**
 * The hash add() computes for p's flow, for a thread that decodes packets for another to count
 * (it travels in PacketInfo.flowHash). 0 when p has no plain IPv4 key (IPv6, fragments, not
 * IP, any decode error): add() then computes it.
 */
export function flowHashHint(p: PacketInfo): number {
  if (p.l3 !== L3.IPv4 || p.isFragment || p.error !== DecodeError.None) return 0;
  const ports = p.hasL4 && p.proto !== 1 && p.proto !== 58;
  const sport = ports ? p.sport : 0, dport = ports ? p.dport : 0, s = p.src4, d = p.dst4;
  const side = s > d || (s === d && sport > dport);
  return finalHash(mix(mix(mix(mix(0x811c9dc5, side ? d : s), side ? s : d),
    side ? ((dport << 16) | sport) >>> 0 : ((sport << 16) | dport) >>> 0),
    (((p.vlan & 0xfff) << 16) | ((p.proto & 255) << 8) | 4) >>> 0));
}

/** murmur3-style mix of the key words: an IPv4 key's constant prefix words are left out. */
function hashKey(k: Uint32Array): number {
  return hashAt(k, 0);
}

/** hashKey() of the key stored at k[b] (the table keeps no hash: removal and growth recompute it). */
function hashAt(k: Uint32Array, b: number): number {
  let h = mix(mix(mix(mix(0x811c9dc5, k[b + 3]), k[b + 7]), k[b + 8]), k[b + 9]);
  if ((k[b + 9] & 0xff) !== 4) h = mix(mix(mix(mix(mix(mix(h, k[b]), k[b + 1]), k[b + 2]), k[b + 4]), k[b + 5]), k[b + 6]);
  return finalHash(h);
}

// A signed 32-bit result: an unsigned one of 2^31 or more is a heap number wherever it crosses
// a call that is not inlined, which was one allocation for every other packet.
function finalHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function mix(h: number, word: number): number {
  let w = Math.imul(word, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  h ^= Math.imul(w, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
