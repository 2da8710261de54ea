// NetFlow/IPFIX export records to DESIGN.md FlowRecords: sampling applied, and the two
// unidirectional records of one conversation joined into one bidirectional flow whose src is
// the opener. Memory is bounded (records held for their reverse, conversation ids), and time
// is the caller's (a datagram's arrival, or its capture time in a replay).

import type { ExportRecord } from '../decode/flow-export-record.js';
import { protoName, type FlowRecord, type FlowStart, type Proto } from '../types.js';
// the port rules that orient a flow whose first packet was not seen: one copy, in detect/
import { opener } from '../detect/flow.js';
import { Oldest } from '../oldest.js';

// Detectors key what they hold (a flow parked for its name) by flow id, and a collector may run
// a capture and several receivers at once: record flows take their ids from one counter that
// starts far above the flow table's (which counts from 1), so no two flows share an id.
let nextSharedId = 2 ** 40;

export interface RecordJoinOptions {
  /**
   * How long a one-sided record waits for its reverse, ms of the caller's time (default 3000).
   * Exporters write both directions of a conversation when it ends, usually in the same or the
   * next datagram; a router whose cache keeps each direction apart ends them a few seconds
   * apart at most (its idle timeout runs from each side's last packet).
   */
  windowMs?: number;
  /** records held at once, at most (default 100 000); the oldest goes out alone beyond it. */
  maxPending?: number;
  /** conversations whose flow id (and opener) are remembered, at most (default 100 000). */
  maxConversations?: number;
  /** a conversation quiet this long is forgotten, ms (default 900 000: above most active timeouts). */
  conversationIdleMs?: number;
  /** the first flow id (default: ids from the counter every receiver shares, above the flow table's). */
  firstId?: number;
}

/** What the join counted; plain numbers. */
export interface RecordJoinStats {
  /** records taken (after the caller's filters). */
  records: number;
  /** records without addresses (options records, MPLS-only): skipped. */
  noAddress: number;
  /** pairs of unidirectional records joined into one flow. */
  joined: number;
  /** records that went out alone: no reverse within the window. */
  single: number;
  /** RFC 5103 biflow records (already both directions). */
  biflows: number;
  /** records sent out alone early because too many were held. */
  pendingEvicted: number;
  /** conversations forgotten early because too many were remembered. */
  conversationsEvicted: number;
  /** held now: records waiting for their reverse, and flows waiting for their window to pass. */
  pending: number;
  /** remembered now. */
  conversations: number;
}

/** One direction of a conversation as exported, sampling applied (a copy: the decoder's record is reused). */
interface Side {
  src: string; sport: number; dst: string; dport: number;
  packets: number; bytes: number; start: number; end: number; tcpFlags: number;
  srcMac: string; dstMac: string;
}

/** A record waiting for its reverse: its side, and what the flow needs besides. */
interface Held extends Side {
  /** the normalized key's low side is this record's src. */
  fromLow: boolean;
  /** caller's time it arrived. */
  at: number;
  proto: number;
  vlan: number;
  exporter: string;
  version: number;
  key: string;
}

interface Conversation {
  id: number;
  /** the opener is the normalized key's low side. */
  lowOpens: boolean;
  sure: boolean;
  last: number;
}

const TCP_SYN = 0x02, TCP_ACK = 0x10;

function newSide(): Side {
  return { src: '', sport: 0, dst: '', dport: 0, packets: 0, bytes: 0, start: 0, end: 0, tcpFlags: 0, srcMac: '', dstMac: '' };
}

function setSide(o: Side, src: string, sport: number, dst: string, dport: number, packets: number, bytes: number,
  start: number, end: number, tcpFlags: number, srcMac: string, dstMac: string): Side {
  o.src = src; o.sport = sport; o.dst = dst; o.dport = dport; o.packets = packets; o.bytes = bytes;
  o.start = start; o.end = end; o.tcpFlags = tcpFlags; o.srcMac = srcMac; o.dstMac = dstMac;
  return o;
}

export class RecordJoin {
  private readonly held = new Map<string, Held>();
  private readonly convs = new Map<string, Conversation>();
  private readonly heldOldest = new Oldest(this.held);
  // Flows wait here until the window of their first record has passed, then go out sorted by
  // start: a one-way record waits the window for its reverse while a pair that met at once
  // would overtake it, and an exporter expires a batch of flows in its own order. Detectors
  // that count (scans: the first attempts are judged, the rest folded) see them in the order
  // they happened, as from packets, at the cost of the window's delay.
  private readonly ready: FlowRecord[] = [];
  private readonly readyDue: number[] = [];
  private readonly convsOldest = new Oldest(this.convs);
  private readonly windowMs: number;
  private readonly maxPending: number;
  private readonly maxConvs: number;
  private readonly idleMs: number;
  private nextId: number;
  private readonly scratchA = newSide();
  private readonly scratchB = newSide();
  private readonly st = { records: 0, noAddress: 0, joined: 0, single: 0, biflows: 0, pendingEvicted: 0, conversationsEvicted: 0 };

  constructor(private readonly emit: (r: FlowRecord) => void, opts: RecordJoinOptions = {}) {
    this.windowMs = opts.windowMs ?? 3000;
    this.maxPending = Math.max(1, opts.maxPending ?? 100_000);
    this.maxConvs = Math.max(1, opts.maxConversations ?? 100_000);
    this.idleMs = opts.conversationIdleMs ?? 900_000;
    this.nextId = opts.firstId ?? -1;
  }

  /** One export record (the decoder's reused object: read now, never kept). */
  add(e: ExportRecord, now: number): void {
    if (e.ipVersion === 0 || e.src === '' || e.dst === '') { this.st.noAddress++; return; }
    this.st.records++;
    const si = e.samplingInterval > 1 ? e.samplingInterval : 1;
    // ICMP is keyed without ports, as the flow table keys it for packets: v5/v9 put type and
    // code in the destination port, so an echo and its reply would otherwise never meet
    const icmp = e.proto === 1 || e.proto === 58;
    const sport = icmp ? 0 : e.sport, dport = icmp ? 0 : e.dport;
    const low = e.src < e.dst || (e.src === e.dst && sport <= dport);
    const key = low
      ? `${e.exporter}|${e.vlan}|${e.proto}|${e.src}|${sport}|${e.dst}|${dport}`
      : `${e.exporter}|${e.vlan}|${e.proto}|${e.dst}|${dport}|${e.src}|${sport}`;
    // the flow's own ports: ICMP keeps type << 8 | code in the destination port, as the
    // flow table does for packets (the policy's `icmp:` types match it)
    const dportOut = icmp && e.icmpType >= 0 ? (e.icmpType << 8) | e.icmpCode : dport;
    // sides only read while the flow is built go in scratch objects: the held ones are the
    // only objects kept, and a burst of records is mostly garbage-collector work otherwise
    if (e.biflow) {
      // RFC 5103: the forward side is the one the exporter saw open the flow
      this.st.biflows++;
      const fwd = setSide(this.scratchA, e.src, sport, e.dst, dportOut, e.packets * si, e.bytes * si, e.start, e.end, e.tcpFlags, e.srcMac, e.dstMac);
      const rev = setSide(this.scratchB, e.dst, dport, e.src, sport, e.packetsRev * si, e.bytesRev * si, e.start, e.end, e.tcpFlagsRev, e.dstMac, e.srcMac);
      const conv = this.conversation(key, low, true, now);
      this.out(conv, fwd, rev, e.proto, e.vlan, e.exporter, e.version, now);
      return;
    }
    const h = this.held.get(key);
    if (h) {
      this.held.delete(key);
      if (h.fromLow !== low) {
        this.st.joined++;
        this.pair(h, setSide(this.scratchA, e.src, sport, e.dst, dportOut, e.packets * si, e.bytes * si, e.start, e.end, e.tcpFlags, e.srcMac, e.dstMac), now);
        return;
      }
      // the same direction again (an interim record before the last went out): the older goes alone
      this.alone(h, now);
    }
    if (this.held.size >= this.maxPending) this.evictHeld(now);
    this.held.set(key, {
      src: e.src, sport, dst: e.dst, dport: dportOut, packets: e.packets * si, bytes: e.bytes * si, start: e.start, end: e.end,
      tcpFlags: e.tcpFlags, srcMac: e.srcMac, dstMac: e.dstMac,
      fromLow: low, at: now, proto: e.proto, vlan: e.vlan, exporter: e.exporter, version: e.version, key,
    });
  }

  /** Time moved on: records that waited the window go out alone; quiet conversations are forgotten. */
  tick(now: number): void {
    for (const h of this.held.values()) {
      // insertion order is arrival order: the first that has not waited long enough ends the scan
      if (now - h.at < this.windowMs) break;
      this.held.delete(h.key);
      this.alone(h, now);
    }
    if (this.ready.length > 0) this.release(now);
    for (const [k, c] of this.convs) {
      if (now - c.last < this.idleMs) break;
      this.convs.delete(k);
    }
  }

  /** End of input (or shutdown): every held record goes out. */
  flush(): void {
    for (const h of this.held.values()) this.alone(h, h.at);
    this.held.clear();
    this.release(Infinity);
  }

  stats(): RecordJoinStats {
    return { ...this.st, pending: this.held.size + this.ready.length, conversations: this.convs.size };
  }

  /** Two directions of one conversation: the earlier start opened it; a tie is left to the port rules. */
  private pair(h: Held, side: Side, now: number): void {
    const a: Side = h;
    let conv = this.convs.get(h.key);
    if (!conv) {
      let lowOpens: boolean, sure: boolean;
      if (a.start !== side.start) {
        const aOpens = a.start < side.start;
        lowOpens = aOpens === h.fromLow;
        sure = true;
      } else {
        const g = this.guess(h, h.proto);
        lowOpens = g.srcOpens === h.fromLow;
        sure = g.sure;
      }
      conv = this.conversation(h.key, lowOpens, sure, now);
    } else {
      this.touch(h.key, conv, now);
    }
    const fwd = conv.lowOpens === h.fromLow ? a : side;
    const rev = fwd === a ? side : a;
    this.out(conv, fwd, rev, h.proto, h.vlan, h.exporter, h.version, h.at);
  }

  /** A record whose reverse did not come. */
  private alone(h: Held, now: number): void {
    this.st.single++;
    let conv = this.convs.get(h.key);
    if (!conv) {
      const g = this.guess(h, h.proto);
      conv = this.conversation(h.key, g.srcOpens === h.fromLow, g.sure, now);
    } else {
      this.touch(h.key, conv, now);
    }
    const s: Side = h;
    const empty = setSide(this.scratchB, s.dst, s.dport, s.src, s.sport, 0, 0, s.start, s.end, 0, s.dstMac, s.srcMac);
    if (conv.lowOpens === h.fromLow) this.out(conv, s, empty, h.proto, h.vlan, h.exporter, h.version, h.at);
    else this.out(conv, empty, s, h.proto, h.vlan, h.exporter, h.version, h.at);
  }

  /**
   * Who opened, from one record alone. A record of TCP SYNs never acknowledged (a scan, an
   * unanswered connect) was sent by the opener. Otherwise the port rules of detect/flow.ts:
   * cumulative flags show SYN on both sides of a connection, so they alone do not tell.
   */
  private guess(s: Side, proto: number): { srcOpens: boolean; sure: boolean } {
    if (proto === 6 && (s.tcpFlags & TCP_SYN) !== 0 && (s.tcpFlags & TCP_ACK) === 0) return { srcOpens: true, sure: true };
    const f: FlowStart = {
      id: 0, time: s.start, proto: protoName(proto), src: s.src, sport: s.sport, dst: s.dst, dport: s.dport,
      srcMac: s.srcMac, dstMac: s.dstMac, vlan: 0, tcpFlags: 0, bytes: 0, origin: 'netflow', exporter: '', sureInitiator: false,
    };
    const o = opener(f);
    return { srcOpens: typeof o === 'string' || o.src === s.src && o.sport === s.sport, sure: false };
  }

  private conversation(key: string, lowOpens: boolean, sure: boolean, now: number): Conversation {
    const old = this.convs.get(key);
    if (old) { this.touch(key, old, now); return old; }
    if (this.convs.size >= this.maxConvs) this.evictConversations();
    const c: Conversation = { id: this.nextId >= 0 ? this.nextId++ : nextSharedId++, lowOpens, sure, last: now };
    this.convs.set(key, c);
    return c;
  }

  private evictHeld(now: number): void {
    const h = this.held.get(this.heldOldest.key()!)!;
    this.held.delete(h.key);
    this.st.pendingEvicted++;
    this.alone(h, now);
  }

  private evictConversations(): void {
    this.convs.delete(this.convsOldest.key()!);
    this.st.conversationsEvicted++;
  }

  /** Kept in least-recently-active order, so tick() stops at the first one still active. */
  private touch(key: string, c: Conversation, now: number): void {
    // moved to the end at most once a second: the order only has to be right to a second
    if (now - c.last < 1000) return;
    c.last = now;
    this.convs.delete(key);
    this.convs.set(key, c);
  }

  private out(conv: Conversation, fwd: Side, rev: Side, proto: number, vlan: number, exporter: string, version: number, at: number): void {
    const start = fwd.packets > 0 && rev.packets > 0 ? Math.min(fwd.start, rev.start) : fwd.packets > 0 ? fwd.start : rev.start;
    const end = fwd.packets > 0 && rev.packets > 0 ? Math.max(fwd.end, rev.end) : fwd.packets > 0 ? fwd.end : rev.end;
    const p: Proto = protoName(proto);
    this.queue({
      id: conv.id, start, end, proto: p, src: fwd.src, sport: fwd.sport, dst: fwd.dst, dport: fwd.dport,
      packets: fwd.packets, bytes: fwd.bytes, packetsRev: rev.packets, bytesRev: rev.bytes,
      srcMac: fwd.srcMac || rev.dstMac, dstMac: fwd.dstMac || rev.srcMac, vlan,
      tcpFlags: proto === 6 ? fwd.tcpFlags | rev.tcpFlags : 0,
      openerTcpFlags: proto === 6 ? fwd.tcpFlags : 0,
      origin: version === 10 ? 'ipfix' : 'netflow', exporter,
      // each export record reports a span that is over; a later one of the same conversation is a delta
      final: true,
      sureInitiator: conv.sure,
    }, at + this.windowMs);
  }

  private queue(r: FlowRecord, due: number): void {
    this.ready.push(r);
    this.readyDue.push(due);
    if (this.ready.length > this.maxPending) this.release(Infinity);
  }

  /**
   * Flows out, in the order their conversations started: those whose first record arrived a
   * window ago or more (all of them at Infinity).
   */
  private release(now: number): void {
    const out: FlowRecord[] = [];
    let keep = 0;
    for (let i = 0; i < this.ready.length; i++) {
      if (this.readyDue[i] <= now) out.push(this.ready[i]);
      else { this.ready[keep] = this.ready[i]; this.readyDue[keep] = this.readyDue[i]; keep++; }
    }
    this.ready.length = keep;
    this.readyDue.length = keep;
    if (out.length > 1) out.sort((a, b) => a.start - b.start || a.id - b.id);
    for (const r of out) this.emit(r);
  }
}
