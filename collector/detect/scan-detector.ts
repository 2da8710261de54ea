// What scan.hosts and scan.ports share as detectors. Two rules find a scan:
//  - fast (at the flow's first packet): a burst of connection attempts (TCP SYNs) to distinct
//    new targets within a couple of seconds, so a sweep is one anomaly from its first moments;
//  - slow (from flow records, Zeek's way): distinct targets whose attempts FAILED (no answer,
//    or a RST: rejected or half-open) within minutes, however slowly they were made.
// Once a device is scanning, the scan's anomaly stands for each of its flows (it sets
// `consumed`, so no per-flow finding follows it) and each new target raises its count.

import type { FlowRecord, FlowStart, Proto, Severity, Text } from '../types.js';
import type { Subject } from './anomaly.js';
import type { DetectContext, Detector, DetectorDef, JudgedFlow } from './detector.js';
import { addrKey } from '../inventory/addr-key.js';

const SYN = 0x02, RST = 0x04, ACK = 0x10;

export interface ScanCounter {
  /**
   * A flow opened. `attempt`: its first packet was a bare SYN (a connection attempt, the
   * fast rule's input). Returns the scan's start when src is scanning after it, else -1;
   * subject() and named() are asked only when needed. flowId: the captured flow's id when its
   * failed record, if one comes, will carry the same src and dst (-1: none or not known).
   */
  observe(src: string, dst: Text, proto: Proto, dport: number, time: number, attempt: boolean,
    subject: () => Subject, named: () => boolean, srcKey: number | string, dstKey: number | string, flowId: number): number;
  /** A connection attempt from src to dst:dport, made at `time`, failed (seen at `seen`); flowId as observe()'s. */
  failed(src: string, dst: Text, proto: Proto, dport: number, time: number, seen: number, subject: () => Subject,
    srcKey: number | string, dstKey: number | string, flowId: number): void;
  tick(now: number): void;
  readonly tracked: number;
  /** entries forgotten at the cap (scanMaxSources sources, or its pairs) */
  readonly evicted: number;
}

/**
 * The TCP attempt of a record failed: the opener sent a SYN and got no answer at all, or a
 * RST for at most one packet back (rejected: RST-ACK; half-open: SYN-ACK then the opener's RST).
 * Records of exporters are one-way: there a SYN without any ACK from the opener is a
 * handshake that never completed.
 */
export function failedAttempt(r: FlowRecord): boolean {
  if (r.proto !== 'tcp' || (r.tcpFlags & SYN) === 0) return false;
  if (r.origin !== 'pcap') {
    // the opener's own flags when the record tells the sides apart (a joined pair, a biflow):
    // the target's SYN-ACK or RST-ACK puts an ACK in the flags of both sides together
    const own = r.openerTcpFlags ?? r.tcpFlags;
    return (own & SYN) !== 0 && (own & ACK) === 0;
  }
  return r.packetsRev === 0 || ((r.tcpFlags & RST) !== 0 && r.packetsRev <= 1);
}

/** The flow's first packet was a bare SYN (OpenedFlow is the FlowStart itself unless it was turned round). */
export function isAttempt(f: JudgedFlow['f']): boolean {
  const flags = (f as { tcpFlags?: number }).tcpFlags;
  return f.proto === 'tcp' && flags !== undefined && (flags & (SYN | ACK)) === SYN;
}

export function scanDetector<C extends ScanCounter>(o: {
  name: string;
  kind: string;
  severity: Severity;
  make: (ctx: DetectContext) => C;
  since: (scan: C, src: string, dst: string, time: number) => number;
  trackedStat: string;
  /** the stats() key of the count of entries forgotten at the cap */
  evictedStat: string;
}): DetectorDef {
  return {
    name: o.name,
    kinds: { [o.kind]: o.severity },
    create(ctx): Detector {
      const scan = o.make(ctx);
      // the scanner as anomaly fields, asked only when the scan is raised (during observe)
      let j: JudgedFlow | null = null;
      const subject = () => ctx.subject(j!.policy, j!.f.src, j!.f.srcMac, j!.srcWatched);
      // the target's text only when read (an anomaly's message, a look-up by text): a reused flow formats it then
      const dst = () => j!.f.dst, recDst = () => rec!.dst;
      const named = () => ctx.inventory.namesFor(j!.f.src, dst, j!.f.time, j!.srcKey, j!.dstKey).length > 0;
      let rec: FlowRecord | null = null;
      const recSubject = () => {
        const p = ctx.policy();
        return ctx.subject(p, rec!.src, rec!.srcMac, ctx.watched(p, rec!.src, rec!.vlan));
      };
      return {
        flowStart(jf) {
          if (jf.group) return;
          j = jf;
          const f = jf.f, attempt = isAttempt(f);
          // a bare SYN opens the flow as captured (not turned round): its record has the same ends
          const id = attempt && (f as FlowStart).origin === 'pcap' ? f.id : -1;
          if (scan.observe(f.src, dst, f.proto, f.dport, f.time, attempt, subject, named, jf.srcKey, jf.dstKey, id) >= 0) jf.consumed = true;
          j = null;
        },
        flowRecord(r) {
          if (!failedAttempt(r)) return;
          const p = ctx.policy();
          const srcKey = r.srcKey ?? addrKey(r.src), dstKey = r.dstKey ?? addrKey(r.dst);
          if (!ctx.watched(p, r.src, r.vlan, srcKey) && !ctx.watched(p, r.dst, r.vlan, dstKey)) return;
          rec = r;
          scan.failed(r.src, recDst, r.proto, r.dport, r.start, r.end, recSubject, srcKey, dstKey, r.origin === 'pcap' ? r.id : -1);
          rec = null;
        },
        scanningSince: (src, dst, time) => o.since(scan, src, dst, time),
        tick: (now) => scan.tick(now),
        stats: () => ({ [o.trackedStat]: scan.tracked, [o.evictedStat]: scan.evicted }),
      };
    },
  };
}
