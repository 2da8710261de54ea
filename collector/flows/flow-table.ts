// Bidirectional flow table for packet sources: per-flow counters in typed arrays keyed by
// VLAN + protocol + address pair + port pair, idle/active timeouts on packet time, eviction at a cap.
// Objects (FlowStart, FlowRecord, address strings) exist only when a flow starts or ends.

import type { FlowRecord, FlowStart, Origin, Proto } from '../types.js';
import { protoName, macString } from '../types.js';
import { PacketInfo, L3, DecodeError, TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST } from '../decode/packet.js';
import { ip4String, ip6WordsString } from '../decode/addr.js';

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
  /**
   * live flows at most; the least recently seen is evicted (emitted as final) to make room and
   * counted (stats().evicted). Default 1 048 576: a slot costs FLOW_SLOT_BYTES (104) of typed arrays,
   * touched only once its slot is first used, so the default reserves address space, not memory.
   */
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
  /**
   * onStart gets one FlowStart object, filled in again for every flow: the receiver reads it
   * during the call and keeps nothing of it (it copies what it keeps). Under churn that is a
   * million short-lived objects fewer per million flows. Default false: a new object each time.
   */
  reuseStart?: boolean;
  /**
   * The same for onRecord: one FlowRecord filled in again for every record (every field, and
   * serverName undefined when the flow has none). Only for receivers that keep no record (a
   * pipeline with no onFlow): a sweep's flows are a million records at the end of a capture.
   */
  reuseRecord?: boolean;
}

export interface FlowTableEvents {
  /** absent when nobody acts at a flow's first packet (`segwatch flows`): no event is built then. */
  onStart?(ev: FlowStart): void;
  onRecord?(rec: FlowRecord): void;
  /**
   * Instead of onStart and onRecord, for a table whose flows another thread judges: the flow's
   * slot, to copy (copySlot) during the call; no object is built on this side.
   */
  onStartSlot?(slot: number): void;
  onRecordSlot?(slot: number, final: boolean): void;
}

/**
 * Bytes a slot copy (FlowTable.copySlot, FlowSlotReader.load) takes at most, a multiple of 8: a
 * flag word and its pad, the record's IW words, the IPv6 pair's V6W words and an interim-record
 * base (first time, two seq words). A copy holds the last two only when the flow has them
 * (slotCopyBytes): most are 104 bytes.
 */
export const SLOT_COPY_BYTES = 38 * 4;

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

/** FlowTableOptions.maxFlows unless given: a million live flows (a scan or flood) fit without an eviction. */
export const DEFAULT_MAX_FLOWS = 1 << 20;

// Timeout classes; each has its own last-seen ordered list so the oldest of each is at its head.
const C_TCP = 0, C_TCP_CLOSED = 1, C_UDP = 2, C_ICMP = 3, C_OTHER = 4, N_CLASSES = 5;
const KL = 10; // a full key in words: A addr (4), B addr (4), ports, vlan/proto/family (closed-session memory)
// One 96-byte record per flow (12 doubles, 24 words): the doubles a packet updates, then the key
// and state words it reads and writes, then what only a flow's start and its records read. An
// IPv4 key is four words (addresses, ports, vlan/proto/family) in the record; an IPv6 flow keeps
// its address pair in a pool of its own (W_A = pool entry, W_B = the flow's hash) so an IPv4 flow
// carries no 24 bytes of IPv6-mapped prefix. Ports, proto and VLAN are read back from the key.
const RW = 12, IW = 24;          // a record in doubles, in 32-bit words
const R_ID = 0, R_START = 1, R_END = 2, R_BYTES = 3, R_LISTED = 5; // doubles; bytes at R_BYTES + dir
const W_A = 12, W_B = 13, W_PORTS = 14, W_VPF = 15; // key words; A's port in the high half of W_PORTS
/** class (bits 0-2), FIN seen per direction (3-4), initiator's key side (5), TCP flags so far (8-15) */
const W_STATE = 16;
/** the packets each direction sent over the flow's life (W_SEQ + dir), int32: lastIndex, and packets less the base of the last interim record */
const W_SEQ = 17;
/** ICMP type/code (bits 0-15), first packet's TCP flags (16-23), FIRST_* (24-25), sure initiator (26), no src MAC (27), no dst MAC (28) */
const W_FIRST = 19;
const W_FBYTES = 20, W_SMAC = 21, W_DMAC = 22, W_MACHI = 23; // first packet's IP length; MACs' low words, high halves
const S_CLS = 7, S_FIN = 3, S_INIT = 5, S_FLAGS = 8; // W_STATE: class mask, shifts
const V6W = 8; // IPv6 pool entry: A addr (4), B addr (4)
// a slot copy's words after the record's IW: the IPv6 pair, an interim record's base, its flag
// (word 0: C_HAS_V6 | C_HAS_LIVED; the record from C_REC; then the IPv6 pair if any; then the base if any)
const C_REC = 2, C_HAS_V6 = 1, C_HAS_LIVED = 2;

/**
 * Bytes of typed arrays one flow-table slot costs, whether live or free: its record and its two
 * last-seen list links (README "Limits"). The index adds 8 more per slot of a power-of-two cap
 * (kept under half full, it grows to 2 entries per slot), IPv6 flows 32 more in their pool.
 */
export const FLOW_SLOT_BYTES = RW * 8 + 2 * 4;

/** The typed-array bytes of a table of maxFlows slots when full: slots and the largest index (not the fixed small tables nor the IPv6 pool). */
export function flowTableBytes(maxFlows: number): number {
  let size = 16;
  while (size < maxFlows * 2) size *= 2;
  return maxFlows * FLOW_SLOT_BYTES + size * 4;
}
const FW = 10; // fragment key words: src (4), dst (4), proto/family, fragment id
const DW = 6; // discovery key words: sender address (4), port, vlan/family
const NIL = -1;

/**
 * FlowStart.firstPacket: what the first packet of a flow says about who opened it. The flow
 * records keep the first sender as src either way; the detection stage decides the opener.
 */
const FIRST_PLAIN = 0, FIRST_LATE = 1, FIRST_ICMP_ERROR = 2, FIRST_DISCOVERY_REPLY = 3;
const FIRST_NAMES = [undefined, 'late', 'icmp-error', 'discovery-reply'] as const;

/**
 * What builds a flow's FlowStart and FlowRecord from its record words: the FlowTable's own
 * slots, or (FlowSlotReader) a slot copied to another thread (copySlot), so both threads build
 * the same objects with the same code.
 */
export abstract class FlowSlots {
  // Every per-flow number sits in one record of RW doubles (two cache lines at most), seen as
  // doubles, int32 and uint32 words. Addresses are not kept as text: the key holds them
  // (initiator on the side in W_STATE) and the MACs are numbers, so a million live flows to a
  // million hosts hold no string each; the text is made when a record or start event is built.
  protected readonly f: Float64Array;
  protected readonly n: Int32Array;
  protected readonly key: Uint32Array;
  /** IPv6 address pairs (V6W words each) of the live IPv6 flows; grows by doubling */
  protected v6: Uint32Array;
  /** server names (TLS SNI, HTTP Host) of the few flows that have one, by slot */
  protected readonly names = new Map<number, string>();
  /**
   * Flows that emitted an interim record, by slot: their first packet's time (the record's start
   * moved on) and each direction's W_SEQ then, so packet counts per record stay exact without two
   * more words per slot. Only flows older than the active timeout (30 min) are here.
   */
  protected readonly lived = new Map<number, Rebased>();
  protected readonly origin: Origin;
  private readonly w6 = new Uint16Array(8);
  /** portOf()'s other end */
  protected lastPort = 0;
  private readonly macs = new TextCache(MAC_TEXT_SLOTS, macString);
  private readonly ip4s = new TextCache(IP4_TEXT_SLOTS, ip4String);

  constructor(origin: Origin, slots: number, v6Entries: number) {
    this.origin = origin;
    this.f = new Float64Array(slots * RW);
    this.n = new Int32Array(this.f.buffer);
    this.key = new Uint32Array(this.f.buffer);
    this.v6 = new Uint32Array(v6Entries * V6W);
  }

  /** a new FlowStart, or `into` filled in (every field, so it keeps one shape; its dst formatted when read) */
  protected startAt(slot: number, into: ReusedStart | null = null): FlowStart {
    const w = slot * IW, first = this.n[w + W_FIRST], l = this.lived.size > 0 ? this.lived.get(slot) : undefined;
    const dport = this.portOf(slot, 1);
    const sport = this.lastPort, src = this.addrText(slot, 0);
    const id = this.f[slot * RW + R_ID], time = l === undefined ? this.f[slot * RW + R_START] : l.firstTs, proto = protoName(this.protoOf(slot));
    const srcMac = this.macText(slot, 0), dstMac = this.macText(slot, 1), vlan = this.key[w + W_VPF] >>> 16;
    const srcKey = this.addrKeyOf(slot, 0, src);
    if (into === null) {
      const dst = this.addrText(slot, 1);
      return {
        id, time, proto, src, sport, dst, dport, srcMac, dstMac, vlan,
        tcpFlags: (first >>> 16) & 0xff, bytes: this.n[w + W_FBYTES], origin: this.origin, exporter: '',
        sureInitiator: (first & 1 << 26) !== 0, firstPacket: FIRST_NAMES[(first >>> 24) & 3], srcKey, dstKey: this.addrKeyOf(slot, 1, dst),
      };
    }
    into.id = id; into.time = time; into.proto = proto; into.src = src; into.sport = sport; into.dport = dport;
    into.dstKey = this.setDst(slot, into);
    into.srcMac = srcMac; into.dstMac = dstMac; into.vlan = vlan;
    into.tcpFlags = (first >>> 16) & 0xff; into.bytes = this.n[w + W_FBYTES]; into.origin = this.origin; into.exporter = '';
    into.sureInitiator = (first & 1 << 26) !== 0; into.firstPacket = FIRST_NAMES[(first >>> 24) & 3];
    into.srcKey = srcKey;
    return into;
  }

  /**
   * A reused object's responder address: an IPv4 one is left as its word, formatted only when a
   * stage reads dst (under a host sweep every flow's is new, and most flows' is never read);
   * another is set as text. Returns its addrKey().
   */
  private setDst(slot: number, into: LazyDst): number | string {
    const k = this.addrKeyOf(slot, 1, '');
    if (typeof k === 'number') {
      into.dstLater(k);
      return k;
    }
    const text = this.addrText(slot, 1);
    into.dst = text;
    return text;
  }

  /** The FlowStart to fill in again and again (reuseStart), for this object's starts. */
  reusableStart(): ReusedStart {
    return new ReusedStart(this.ip4s);
  }

  /** The FlowRecord to fill in again and again (reuseRecord), for this object's records. */
  reusableRecord(): ReusedRecord {
    return new ReusedRecord(this.ip4s);
  }

  protected protoOf(slot: number): number {
    return (this.key[slot * IW + W_VPF] >>> 8) & 0xff;
  }

  /**
   * The initiator's (end 0) or responder's (end 1) port, from the key; an ICMP flow's key has
   * none: its "destination port" is the first packet's type and code. The other end's port is
   * left in lastPort, so a record or start reads the key once for both.
   */
  protected portOf(slot: number, end: number): number {
    const w = slot * IW, proto = this.protoOf(slot);
    if (proto === 1 || proto === 58) {
      const tc = this.n[w + W_FIRST] & 0xffff;
      this.lastPort = end === 0 ? tc : 0;
      return end === 0 ? 0 : tc;
    }
    const side = ((this.n[w + W_STATE] >> S_INIT) & 1) ^ end, ports = this.key[w + W_PORTS];
    this.lastPort = side === 0 ? ports & 0xffff : ports >>> 16;
    return side === 0 ? ports >>> 16 : ports & 0xffff;
  }

  /**
   * IPv4 text, cached: a segment's devices, resolvers and servers recur on flow after flow, and a
   * shared string costs neither the formatting nor a young-generation copy while the flow lives.
   * a: the address as int32 (a uint32 of 2^31 or more would be a heap number across the call).
   */
  protected ip4Text(a: number): string {
    return this.ip4s.textWords(0, a);
  }

  /**
   * addrKey() of the initiator's (end 0) or responder's (end 1) address, from the key: an IPv4
   * address is its value as int32 (the text the table writes is the canonical dotted quad
   * addrKey reads back), any other the text itself.
   */
  protected addrKeyOf(slot: number, end: number, text: string): number | string {
    const b = slot * IW;
    if ((this.key[b + W_VPF] & 0xff) !== 4) return text;
    return this.key[b + W_A + (((this.n[b + W_STATE] >> S_INIT) & 1) ^ end)] | 0;
  }

  /** The initiator's (end 0) or responder's (end 1) address as text, from the key. */
  protected addrText(slot: number, end: number): string {
    const b = slot * IW, side = ((this.n[b + W_STATE] >> S_INIT) & 1) ^ end, key = this.key;
    if ((key[b + W_VPF] & 0xff) === 4) return this.ip4Text(key[b + W_A + side] | 0);
    const w = this.w6, v = this.v6, o = key[b + W_A] * V6W + side * 4;
    for (let i = 0; i < 4; i++) { w[i * 2] = v[o + i] >>> 16; w[i * 2 + 1] = v[o + i] & 0xffff; }
    return ip6WordsString(w);
  }

  /**
   * The initiator's (end 0) or responder's (end 1) MAC as text, cached: a segment has few MACs
   * (the gateway's is on nearly every flow). Handed over as two int32 halves, not a 48-bit double
   * (a heap number wherever the call is not inlined); "" when the frame had none.
   */
  protected macText(slot: number, end: number): string {
    const w = slot * IW, key = this.key;
    if ((this.n[w + W_FIRST] & 1 << (27 + end)) !== 0) return this.macs.text(-1);
    const hi = end === 0 ? key[w + W_MACHI] >>> 16 : key[w + W_MACHI] & 0xffff;
    return this.macs.textWords(hi, key[w + (end === 0 ? W_SMAC : W_DMAC)] | 0);
  }

  /** a new FlowRecord, or `into` filled in (every field, so it keeps one shape) */
  protected recordAt(slot: number, final: boolean, into: ReusedRecord | null = null): FlowRecord {
    const r = slot * RW, w = slot * IW, f = this.f, n = this.n;
    const l = this.lived.size > 0 ? this.lived.get(slot) : undefined;
    // packets since the last interim record: the seq words less their values then, modulo 2^32
    const p0 = l === undefined ? n[w + W_SEQ] : (n[w + W_SEQ] - l.base0) >>> 0;
    const p1 = l === undefined ? n[w + W_SEQ + 1] : (n[w + W_SEQ + 1] - l.base1) >>> 0;
    const dport = this.portOf(slot, 1);
    const sport = this.lastPort, src = this.addrText(slot, 0);
    const name = this.names.size > 0 ? this.names.get(slot) : undefined;
    if (into !== null) {
      into.id = f[r + R_ID]; into.start = f[r + R_START]; into.end = f[r + R_END]; into.proto = protoName(this.protoOf(slot));
      into.src = src; into.sport = sport; into.dport = dport;
      into.dstKey = this.setDst(slot, into);
      into.packets = p0 >>> 0; into.bytes = f[r + R_BYTES]; into.packetsRev = p1 >>> 0; into.bytesRev = f[r + R_BYTES + 1];
      into.srcMac = this.macText(slot, 0); into.dstMac = this.macText(slot, 1); into.vlan = this.key[w + W_VPF] >>> 16;
      into.tcpFlags = (n[w + W_STATE] >>> S_FLAGS) & 0xff; into.origin = this.origin; into.exporter = ''; into.final = final;
      into.srcKey = this.addrKeyOf(slot, 0, src);
      into.serverName = name;
      return into;
    }
    const dst = this.addrText(slot, 1);
    const rec: FlowRecord = {
      id: f[r + R_ID], start: f[r + R_START], end: f[r + R_END], proto: protoName(this.protoOf(slot)),
      src, sport, dst, dport,
      packets: p0 >>> 0, bytes: f[r + R_BYTES], packetsRev: p1 >>> 0, bytesRev: f[r + R_BYTES + 1],
      srcMac: this.macText(slot, 0), dstMac: this.macText(slot, 1), vlan: this.key[w + W_VPF] >>> 16,
      tcpFlags: (n[w + W_STATE] >>> S_FLAGS) & 0xff, origin: this.origin, exporter: '', final,
      srcKey: this.addrKeyOf(slot, 0, src), dstKey: this.addrKeyOf(slot, 1, dst),
    };
    if (name !== undefined) rec.serverName = name;
    return rec;
  }

}

export class FlowTable extends FlowSlots {
  /** 0 when the last add()'s packet came from the initiator, 1 from the responder. */
  lastDir = 0;
  /** 1-based number of the last add()'s packet among its flow's packets in that direction. */
  lastIndex = 0;

  private readonly ev: FlowTableEvents;
  /** the FlowStart onStart gets when reuseStart is set */
  private readonly reused: ReusedStart | null;
  /** the FlowRecord onRecord gets when reuseRecord is set */
  private readonly reusedRecord: ReusedRecord | null;
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

  /** last-seen list links: prev, next per slot; a free slot's next is the free list's */
  private readonly links: Int32Array;
  /** the IPv6 pool's free list and its never-used tail (FlowSlots.v6) */
  private v6Free = NIL;
  private v6Fresh = 0;

  private readonly heads = new Int32Array(N_CLASSES).fill(NIL);
  private readonly tails = new Int32Array(N_CLASSES).fill(NIL);
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
  private readonly dw = new Uint32Array(4);

  constructor(opts: FlowTableOptions, events: FlowTableEvents) {
    const cap = Math.max(1, Math.floor(opts.maxFlows ?? DEFAULT_MAX_FLOWS));
    super(opts.origin ?? 'pcap', cap, Math.min(cap, 64));
    this.ev = events;
    this.reused = opts.reuseStart === true ? this.reusableStart() : null;
    this.reusedRecord = opts.reuseRecord === true ? this.reusableRecord() : null;
    this.timeouts[C_TCP] = opts.idleTcpMs ?? 300_000;
    this.timeouts[C_TCP_CLOSED] = opts.idleTcpClosedMs ?? 5_000;
    this.timeouts[C_UDP] = opts.idleUdpMs ?? 60_000;
    this.timeouts[C_ICMP] = opts.idleIcmpMs ?? 30_000;
    this.timeouts[C_OTHER] = opts.idleOtherMs ?? 60_000;
    this.activeMs = opts.activeTimeoutMs ?? 1_800_000;
    this.fragMs = opts.fragmentTimeoutMs ?? 30_000;
    this.advanceEvery = opts.advanceEveryMs ?? 1000;
    this.relistMs = opts.lruResolutionMs ?? 1000;
    this.cap = cap;
    let span = 1;
    while (span < cap) span *= 2;
    this.slotSpan = span;
    let size = 16;
    while (size < cap * 2) size *= 2;
    this.maxIndex = size;
    // One buffer for the index at its largest, used from its start: growing takes a longer view
    // of it, not a new array, so the smaller ones are never garbage waiting for a collection (a
    // thread that allocates few objects, the flow thread, collects rarely: the dead arrays of a
    // million flows' growth stayed resident, 8 MB). Pages never used cost no memory.
    this.index = new Int32Array(new ArrayBuffer(size * 4), 0, Math.min(size, 4096));
    this.mask = this.index.length - 1;
    // The typed arrays cost nothing until touched: pages of slots never used stay unmapped.
    this.links = new Int32Array(cap * 2);
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
        return this.count(slot, side === ((this.n[slot * IW + W_STATE] >> S_INIT) & 1) ? 0 : 1, p);
      }
    }
    const sport = p.hasL4 && p.proto !== 1 && p.proto !== 58 ? p.sport : 0;
    const dport = p.hasL4 && p.proto !== 1 && p.proto !== 58 ? p.dport : 0;
    const side = v4 ? this.buildKey4(p, sport, dport) : this.buildKey(p, sport, dport);
    const h = p.flowHash !== 0 ? p.flowHash : hashKey(this.k);
    let slot = this.find(h);
    const flags = p.proto === 6 && p.hasL4 ? p.tcpFlags : 0;
    let st = 0;
    if (slot !== NIL) {
      st = this.n[slot * IW + W_STATE];
      const cls = st & S_CLS;
      // Checked here too so expiry is exact, not only at the 1 s advance() granularity.
      const idle = ts - this.f[slot * RW + R_END] >= this.timeouts[cls];
      // A fresh SYN on a closed connection is a new connection reusing the ports.
      const reopened = cls === C_TCP_CLOSED && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
      if (idle || reopened) {
        if (idle) this.nExpired++;
        this.finish(slot, true);
        slot = NIL;
      }
    }
    if (slot === NIL) slot = this.create(p, h, side, flags);
    else this.count(slot, side === ((st >> S_INIT) & 1) ? 0 : 1, p);
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

  /** The slot of live flow `flowId` (the last add()'s at once), NIL when it has ended: for copySlot. */
  lastSlotOf(flowId: number): number {
    const slot = this.lastSlot;
    return slot !== NIL && this.f[slot * RW + R_ID] === flowId ? slot : this.slotOf(flowId);
  }

  /** Attach a server name (TLS SNI, HTTP Host) to a live flow; carried on its records as serverName. */
  setName(flowId: number, name: string): void {
    let slot = this.lastSlot;
    if (slot === NIL || this.f[slot * RW + R_ID] !== flowId) slot = this.slotOf(flowId);
    if (slot !== NIL) this.names.set(slot, name);
  }

  /** Emit every live flow as final, oldest id first (end of capture, shutdown). */
  flush(): void {
    // id * slotSpan + slot, sorted as numbers: a native typed-array sort instead of a comparator
    // call per compare; exact while id * slotSpan stays below 2^53. The sort keys live in the
    // index's memory: it is emptied at the end anyway, finish() leaves it alone meanwhile, and
    // the view in use (kept at least twice the live flows) has 8 bytes for every live flow (a
    // million flows' flush then allocates no 8 MB at the run's peak).
    const keys = new Float64Array(this.index.buffer, 0, this.live);
    const mul = this.slotSpan;
    let n = 0;
    for (let c = 0; c < N_CLASSES; c++) for (let s = this.heads[c]; s !== NIL; s = this.links[s * 2 + 1]) keys[n++] = this.f[s * RW + R_ID] * mul + s;
    keys.sort();
    // every flow ends: the index is emptied once at the end, not entry by entry (a backward
    // shift per flow cost more than the records themselves at a million flows)
    this.flushing = true;
    try {
      for (let i = 0; i < n; i++) this.finish(keys[i] % mul, true);
    } finally {
      this.flushing = false;
      if (n > 0) this.index.fill(0);
    }
  }

  /** flush() is ending every flow: finish() leaves the index to it */
  private flushing = false;

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
    const w = slot * IW, key = this.key, sw = this.sw;
    if ((key[w + W_VPF] & 0xff) === 4) return key[w + W_A] === sw[3] ? 0 : 1;
    const v = this.v6, o = key[w + W_A] * V6W;
    return v[o] === sw[0] && v[o + 1] === sw[1] && v[o + 2] === sw[2] && v[o + 3] === sw[3] ? 0 : 1;
  }

  private find(h: number): number {
    const index = this.index, mask = this.mask, key = this.key, k = this.k;
    const vpf = k[9], ports = k[8], a = k[3];
    if ((vpf & 0xff) === 4) {
      const b = k[7];
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const e = index[i];
        if (e === 0) return NIL;
        const w = (e - 1) * IW;
        // The words that differ most first
        if (key[w + W_VPF] === vpf && key[w + W_PORTS] === ports && key[w + W_B] === b && key[w + W_A] === a) return e - 1;
      }
    }
    // IPv6: W_B is the hash, and the pool holds the addresses
    const hb = h >>> 0, v = this.v6;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = index[i];
      if (e === 0) return NIL;
      const w = (e - 1) * IW;
      if (key[w + W_VPF] === vpf && key[w + W_PORTS] === ports && key[w + W_B] === hb) {
        const o = key[w + W_A] * V6W;
        if (v[o + 3] === a && v[o + 7] === k[7] && v[o] === k[0] && v[o + 1] === k[1] && v[o + 2] === k[2] &&
          v[o + 4] === k[4] && v[o + 5] === k[5] && v[o + 6] === k[6]) return e - 1;
      }
    }
  }

  /** hashKey() of the slot's key: computed again for an IPv4 key, kept in W_B for an IPv6 one. */
  private slotHash(slot: number): number {
    const w = slot * IW, key = this.key, vpf = key[w + W_VPF];
    return (vpf & 0xff) === 4 ? hash4(key[w + W_A], key[w + W_B], key[w + W_PORTS], vpf) : key[w + W_B] | 0;
  }

  /** The slot's full key (KL words, IPv4 as IPv4-mapped IPv6) into out at o, as buildKey() makes it. */
  private fullKey(slot: number, out: Uint32Array, o: number): void {
    const w = slot * IW, key = this.key;
    if ((key[w + W_VPF] & 0xff) === 4) {
      out[o] = 0; out[o + 1] = 0; out[o + 2] = 0xffff; out[o + 3] = key[w + W_A];
      out[o + 4] = 0; out[o + 5] = 0; out[o + 6] = 0xffff; out[o + 7] = key[w + W_B];
    } else {
      const v = this.v6, e = key[w + W_A] * V6W;
      for (let i = 0; i < V6W; i++) out[o + i] = v[e + i];
    }
    out[o + 8] = key[w + W_PORTS]; out[o + 9] = key[w + W_VPF];
  }

  private v6Alloc(): number {
    let e = this.v6Free;
    if (e !== NIL) {
      this.v6Free = this.v6[e * V6W] - 1;   // a free entry's first word: the next free one + 1
      return e;
    }
    e = this.v6Fresh++;
    if ((e + 1) * V6W > this.v6.length) {
      const grown = new Uint32Array(this.v6.length * 2);
      grown.set(this.v6);
      this.v6 = grown;
    }
    return e;
  }

  private v6Release(e: number): void {
    this.v6[e * V6W] = this.v6Free + 1;
    this.v6Free = e;
  }

  private growIndex(): void {
    this.index = new Int32Array(this.index.buffer, 0, this.index.length * 2);
    this.index.fill(0);
    this.mask = this.index.length - 1;
    for (let c = 0; c < N_CLASSES; c++) {
      for (let s = this.heads[c]; s !== NIL; s = this.links[s * 2 + 1]) this.indexInsert(s, this.slotHash(s));
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
    let i = this.slotHash(slot) & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = index[j];
      if (e === 0) break;
      const home = this.slotHash(e - 1) & mask;
      // move e into the hole at i unless its home lies cyclically in (i, j]
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) { index[i] = e; i = j; }
    }
    index[i] = 0;
  }

  // ---- flow life -----------------------------------------------------------------

  // ts is read from p, not passed: a fractional double argument to a call that is not inlined
  // is boxed, one heap number per packet.
  private create(p: PacketInfo, h: number, side: number, flags: number): number {
    const ts = p.ts, links = this.links;
    if (this.freeHead === NIL) {
      if (this.fresh < this.cap) {
        const slot = this.fresh++;
        links[slot * 2 + 1] = NIL;
        this.freeHead = slot;
      } else this.evictOldest();
    }
    const slot = this.freeHead;
    this.freeHead = links[slot * 2 + 1];
    this.live++;
    if (this.live * 2 > this.index.length && this.index.length < this.maxIndex) this.growIndex();
    this.nCreated++;
    const w = slot * IW, r = slot * RW, k = this.k, key = this.key, f = this.f, n = this.n;
    if ((k[9] & 0xff) === 4) {
      key[w + W_A] = k[3]; key[w + W_B] = k[7];
    } else {
      const e = this.v6Alloc(), v = this.v6;
      for (let i = 0; i < V6W; i++) v[e * V6W + i] = k[i];
      key[w + W_A] = e; key[w + W_B] = h;
    }
    key[w + W_PORTS] = k[8]; key[w + W_VPF] = k[9];
    this.indexInsert(slot, h);
    const id = this.nextId++;
    f[r + R_ID] = id;
    // SYN: sender initiates; SYN-ACK seen first: the receiver did; otherwise the first sender.
    const synAck = (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
    const syn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    const rev = synAck;
    const c = p.proto === 6 ? C_TCP : p.proto === 17 ? C_UDP : p.proto === 1 || p.proto === 58 ? C_ICMP : C_OTHER;
    n[w + W_STATE] = c | (rev ? side ^ 1 : side) << S_INIT;
    f[r + R_BYTES] = 0; f[r + R_BYTES + 1] = 0;
    n[w + W_SEQ] = 0; n[w + W_SEQ + 1] = 0;
    f[r + R_START] = ts;
    f[r + R_END] = ts;
    this.append(slot, c);
    // the initiator's MAC first; -1 (no link layer) as a bit of W_FIRST
    const sm = rev ? p.dstMac : p.srcMac, dm = rev ? p.srcMac : p.dstMac;
    // (a 48-bit MAC: >>> 0 keeps its low 32 bits, | 0 of it over 2^32 its high 16, without a float modulo)
    key[w + W_SMAC] = sm < 0 ? 0 : sm >>> 0;
    key[w + W_DMAC] = dm < 0 ? 0 : dm >>> 0;
    key[w + W_MACHI] = (sm < 0 ? 0 : ((sm / 4294967296) | 0) << 16) | (dm < 0 ? 0 : (dm / 4294967296) | 0);
    n[w + W_FBYTES] = p.ipLen;
    // ICMP: type and code of the first packet as NetFlow carries them (v5 dstport, IPFIX
    // icmpTypeCode), so a policy can name ICMP types; the key stays port-less, so an echo
    // request and its reply are still one flow
    const icmp = (p.proto === 1 || p.proto === 58) && p.hasL4 ? (p.icmpType << 8) | p.icmpCode : 0;
    const kind = this.firstKindOf(p, h, flags, slot);
    n[w + W_FIRST] = icmp | (flags & 0xff) << 16 | kind << 24 | (syn || synAck ? 1 << 26 : 0) | (sm < 0 ? 1 << 27 : 0) | (dm < 0 ? 1 << 28 : 0);
    if (this.ev.onStart) this.ev.onStart(this.startAt(slot, this.reused));
    else if (this.ev.onStartSlot) this.ev.onStartSlot(slot);
    this.count(slot, rev ? 1 : 0, p);
    return slot;
  }

  private count(slot: number, dir: number, p: PacketInfo): number {
    const ts = p.ts, f = this.f, n = this.n, r = slot * RW, w = slot * IW;
    let seq = n[w + W_SEQ + dir];
    // Past the active timeout, or before a direction's count could pass 2^31 packets since the
    // last record (so seq less its base stays exact in 32 bits), an interim record restarts the counters.
    if (ts - f[r + R_START] >= this.activeMs || (seq & 0x7fffffff) === 0x7fffffff) this.interim(slot, p);
    f[r + R_BYTES + dir] += p.ipLen;
    seq = (seq + 1) | 0;
    n[w + W_SEQ + dir] = seq;
    if (ts > f[r + R_END]) f[r + R_END] = ts;
    if (p.proto === 6 && p.hasL4) {
      const fl = p.tcpFlags;
      let st = n[w + W_STATE] | fl << S_FLAGS;
      if ((st & S_CLS) === C_TCP) {
        if (fl & TCP_FIN) st |= 1 << (S_FIN + dir);
        n[w + W_STATE] = st;
        if ((fl & TCP_RST) || (st & 3 << S_FIN) === 3 << S_FIN) {
          this.unlink(slot);
          n[w + W_STATE] = (st & ~S_CLS) | C_TCP_CLOSED;
          this.append(slot, C_TCP_CLOSED);
        }
      } else n[w + W_STATE] = st;
    }
    // Re-list at most once per lruResolutionMs: each move touches two neighbours' cache lines,
    // and the lists only need last-seen order to that resolution.
    if (ts - f[r + R_LISTED] >= this.relistMs) {
      const c = n[w + W_STATE] & S_CLS;
      if (this.tails[c] !== slot) { this.unlink(slot); this.append(slot, c); } else f[r + R_LISTED] = ts;
    }
    this.lastDir = dir;
    this.lastIndex = seq;
    this.lastSlot = slot;
    return f[r + R_ID];
  }

  /** Emit the flow's counters so far (final false) and restart them at p. */
  private interim(slot: number, p: PacketInfo): void {
    this.emit(slot, false);
    const f = this.f, n = this.n, r = slot * RW, w = slot * IW;
    let l = this.lived.get(slot);
    if (l === undefined) {
      l = { firstTs: f[r + R_START], base0: 0, base1: 0 };
      this.lived.set(slot, l);
    }
    l.base0 = n[w + W_SEQ]; l.base1 = n[w + W_SEQ + 1];
    f[r + R_BYTES] = 0; f[r + R_BYTES + 1] = 0;
    n[w + W_STATE] &= ~(0xff << S_FLAGS);
    f[r + R_START] = p.ts;
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
    if ((this.n[slot * IW + W_STATE] & S_CLS) === C_TCP_CLOSED) this.rememberClosed(slot);
    this.unlink(slot);
    if (!this.flushing) this.indexRemove(slot);
    if ((this.key[slot * IW + W_VPF] & 0xff) !== 4) this.v6Release(this.key[slot * IW + W_A]);
    if (this.names.size > 0) this.names.delete(slot);
    if (this.lived.size > 0) this.lived.delete(slot);
    this.f[slot * RW + R_ID] = 0;
    if (this.lastSlot === slot) this.lastSlot = NIL;
    this.links[slot * 2 + 1] = this.freeHead;
    this.freeHead = slot;
    this.live--;
  }

  private emit(slot: number, final: boolean): void {
    const ev = this.ev;
    if (ev.onRecordSlot) ev.onRecordSlot(slot, final);
    else ev.onRecord?.(this.recordAt(slot, final, this.reusedRecord));
  }

  /**
   * Copies the slot's record, IPv6 pair and interim-record base to another thread's memory at
   * byte `at` (8-aligned; slotCopyBytes(slot) of them), for a FlowSlotReader there to build its
   * objects. Only what the flow has goes over: the thread hands over two copies per flow, and
   * each line the other side reads comes from this core's cache.
   */
  copySlot(slot: number, i32: Int32Array, f64: Float64Array, at: number): void {
    const w = slot * IW, n = this.n;
    let o = at >> 2, flags = 0;
    for (let i = 0; i < IW; i++) i32[o + C_REC + i] = n[w + i];
    let x = o + C_REC + IW;
    if ((this.key[w + W_VPF] & 0xff) !== 4) {
      const v = this.v6, e = this.key[w + W_A] * V6W;
      for (let i = 0; i < V6W; i++) i32[x + i] = v[e + i] | 0;
      x += V6W;
      flags |= C_HAS_V6;
    }
    const l = this.lived.size > 0 ? this.lived.get(slot) : undefined;
    if (l !== undefined) {
      f64[x >> 1] = l.firstTs;
      i32[x + 2] = l.base0;
      i32[x + 3] = l.base1;
      flags |= C_HAS_LIVED;
    }
    i32[o] = flags;
    i32[++o] = 0;
  }

  /** Bytes copySlot() writes for the slot (a multiple of 8, at most SLOT_COPY_BYTES). */
  slotCopyBytes(slot: number): number {
    let words = C_REC + IW;
    if ((this.key[slot * IW + W_VPF] & 0xff) !== 4) words += V6W;
    if (this.lived.size > 0 && this.lived.has(slot)) words += 4;
    return words * 4;
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
        if (proto !== undefined && this.protoOf(s) !== proto) continue;
        if (port !== undefined && this.portOf(s, 0) !== port && this.portOf(s, 1) !== port) continue;
        if (ips !== undefined && !ips.includes(this.addrText(s, 0)) && !ips.includes(this.addrText(s, 1))) continue;
        if (macs !== undefined && !macs.includes(this.macText(s, 0)) && !macs.includes(this.macText(s, 1))) continue;
        out.push(this.recordAt(s, false));
      }
    }
    return out;
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
    const c = this.n[slot * IW + W_STATE] & S_CLS, pv = this.links[slot * 2], nx = this.links[slot * 2 + 1];
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
    const e = this.slotHash(slot) & this.rememberMask;
    this.fullKey(slot, this.closedKey, e * KL);
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
    if (ts - this.f[slot * RW + R_END] >= this.timeouts[this.n[slot * IW + W_STATE] & S_CLS]) return NIL;
    return slot;
  }

  /** Hash-table load, for tests and the bench: live flows and index size. */
  get capacity(): number { return this.cap; }
}

/**
 * A flow another thread's FlowTable copied (copySlot), as the objects that table would have
 * built: one slot, loaded again for each copy.
 */
export class FlowSlotReader extends FlowSlots {
  constructor(origin: Origin = 'pcap') {
    super(origin, 1, 1);
  }

  /** Loads the copy at byte `at` (8-aligned) of the views; returns the flow's id. */
  load(i32: Int32Array, f64: Float64Array, at: number): number {
    const o = at >> 2, n = this.n, flags = i32[o];
    for (let i = 0; i < IW; i++) n[i] = i32[o + C_REC + i];
    let x = o + C_REC + IW;
    if ((flags & C_HAS_V6) !== 0) {
      const v = this.v6;
      for (let i = 0; i < V6W; i++) v[i] = i32[x + i];
      this.key[W_A] = 0;
      x += V6W;
    }
    if ((flags & C_HAS_LIVED) !== 0) this.lived.set(0, { firstTs: f64[x >> 1], base0: i32[x + 2], base1: i32[x + 3] });
    else if (this.lived.size > 0) this.lived.clear();
    return this.f[R_ID];
  }

  /** The loaded flow's FlowStart (into: filled in, as FlowTable's reuseStart). */
  start(into: ReusedStart | null = null): FlowStart {
    return this.startAt(0, into);
  }

  /** The loaded flow's record, with the server name this side learned for it (into: filled in, as reuseRecord). */
  record(final: boolean, name: string | undefined, into: ReusedRecord | null = null): FlowRecord {
    if (name !== undefined) this.names.set(0, name);
    else if (this.names.size > 0) this.names.clear();
    return this.recordAt(0, final, into);
  }
}

/**
 * A reused FlowStart or FlowRecord's dst: an IPv4 address is kept as its word until a stage
 * reads it (then formatted once, through the table's cache). Only stages read these objects,
 * during the call: none spreads, serialises or keeps one (a pipeline with onFlow gets new ones).
 */
abstract class LazyDst {
  private dstText = '';
  private dstWord = 0;
  private dstPending = false;

  constructor(private readonly texts: TextCache) {}

  get dst(): string {
    if (this.dstPending) {
      this.dstText = this.texts.textWords(0, this.dstWord);
      this.dstPending = false;
    }
    return this.dstText;
  }

  set dst(text: string) {
    this.dstText = text;
    this.dstPending = false;
  }

  /** dst is the IPv4 address `word` (int32), formatted when read */
  dstLater(word: number): void {
    this.dstWord = word;
    this.dstPending = true;
  }
}

/** The FlowStart of reuseStart: every field present, so it keeps one shape. */
export class ReusedStart extends LazyDst implements FlowStart {
  id = 0; time = 0; proto: Proto = 'tcp'; src = ''; sport = 0; dport = 0; srcMac = ''; dstMac = ''; vlan = 0; tcpFlags = 0; bytes = 0;
  origin: Origin = 'pcap'; exporter = ''; sureInitiator = false; firstPacket: FlowStart['firstPacket'] = undefined;
  srcKey: number | string = 0; dstKey: number | string = 0;
}

/** The FlowRecord of reuseRecord: every field present, so it keeps one shape. */
export class ReusedRecord extends LazyDst implements FlowRecord {
  id = 0; start = 0; end = 0; proto: Proto = 'tcp'; src = ''; sport = 0; dport = 0; packets = 0; bytes = 0; packetsRev = 0; bytesRev = 0;
  srcMac = ''; dstMac = ''; vlan = 0; tcpFlags = 0; origin: Origin = 'pcap'; exporter = ''; final = false;
  srcKey: number | string = 0; dstKey: number | string = 0; serverName: string | undefined = undefined;
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

const IP4_TEXT_SLOTS = 16_384, MAC_TEXT_SLOTS = 16_384;

/**
 * format(key), cached direct-mapped (a key overwrites the one in its slot): the addresses that
 * recur (a segment's devices, its resolvers, the gateway's MAC) stay, and a sweep of a million
 * distinct hosts costs one typed-array compare per miss, not a Map insert and, every 65,536
 * misses, a rebuild of the Map (that was a seventh of a churn replay).
 */
class TextCache {
  private readonly keys: Float64Array;
  private readonly texts: string[];
  private readonly shift: number;

  /** slots: a power of two */
  constructor(slots: number, private readonly format: (key: number) => string) {
    this.keys = new Float64Array(slots).fill(NaN);
    this.texts = new Array<string>(slots).fill('');
    this.shift = 32 - Math.log2(slots);
  }

  text(key: number): string {
    // MACs run to 48 bits: fold the high word in; an IPv4 word is below 2^32
    const e = Math.imul((key >>> 0) ^ Math.floor(key / 4294967296), 0x9e3779b1) >>> this.shift;
    if (this.keys[e] === key) return this.texts[e];
    const s = this.format(key);
    this.keys[e] = key;
    this.texts[e] = s;
    return s;
  }

  /** text(hi * 2^32 + (lo >>> 0)) in the same slot, from a key's high word and low word as int32 (no double crosses the call). */
  textWords(hi: number, lo: number): string {
    const e = Math.imul(lo ^ hi, 0x9e3779b1) >>> this.shift;
    const key = hi * 4294967296 + (lo >>> 0);
    if (this.keys[e] === key) return this.texts[e];
    const s = this.format(key);
    this.keys[e] = key;
    this.texts[e] = s;
    return s;
  }
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

/** A flow's first packet time and per-direction seq words when its last interim record was emitted. */
interface Rebased { firstTs: number; base0: number; base1: number }

/** hashKey() of an IPv4 key from its four record words (addresses, ports, vlan/proto/family). */
function hash4(a: number, b: number, ports: number, vpf: number): number {
  return finalHash(mix(mix(mix(mix(0x811c9dc5, a), b), ports), vpf));
}

/**
 * murmur3-style mix of a full key (KL words): an IPv4 key's constant prefix words are left out.
 * The table keeps an IPv6 flow's hash (W_B) and computes an IPv4 one again on removal and growth.
 */
function hashKey(k: Uint32Array): number {
  let h = mix(mix(mix(mix(0x811c9dc5, k[3]), k[7]), k[8]), k[9]);
  if ((k[9] & 0xff) !== 4) h = mix(mix(mix(mix(mix(mix(h, k[0]), k[1]), k[2]), k[4]), k[5]), k[6]);
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
