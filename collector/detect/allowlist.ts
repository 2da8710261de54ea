// The allowlist: every flow a watched device opens is asked of its profile. A denied flow
// is one anomaly of the most specific kind: segment.crossing into a protected segment,
// dns.bypass to a resolver that is not approved, else policy.violation (the messages are
// built in their own modules). A flow whose domain rule needs a name that has not arrived
// yet (a SYN before the TLS SNI) is parked and judged when the name arrives or the flow
// ends, whichever comes first.

import type { Anomaly, FlowRecord } from '../types.js';
import type { CompiledPolicy, FlowFacts } from '../policy/types.js';
import type { AnomalyInit } from './anomaly.js';
import type { DetectContext, Detector, DetectorDef, JudgedFlow } from './detector.js';
import type { OpenedFlow } from './flow.js';
import { policyViolation } from './policy-violation.js';
import { segmentCrossing } from './segment-crossing.js';
import { dnsBypass, dnsPort } from './dns-bypass.js';
import { plaintextPort } from './protocol-plaintext.js';
import { Oldest } from '../oldest.js';
import { FlowTraffic } from './flow-traffic.js';
import { RESERVED_PROFILES } from '../policy/schema-names.js';

interface Parked {
  f: OpenedFlow;
  profile: string;
}

const KINDS = new Set(['policy.violation', 'segment.crossing', 'dns.bypass']);
const RESERVED: ReadonlySet<string> = new Set(RESERVED_PROFILES);

class Allowlist implements Detector {
  private readonly parked = new Map<number, Parked>();
  private readonly parkedOldest = new Oldest(this.parked);
  /** the anomaly each denied flow raised, so its later bytes join it */
  private readonly traffic: FlowTraffic;
  private readonly counters = { parkedJudgedOnName: 0, parkedJudgedAtEnd: 0, parkedJudgedAtFlush: 0, parkedEvicted: 0, foldedIntoScan: 0 };

  /** what flowStart() asks evaluate() about, reused (evaluate() keeps nothing of it) */
  private readonly facts: FlowFacts = { proto: 'tcp', dst: '', dport: 0, sport: -1, dstKey: 0 };
  /** the flow flowStart() judges, for namesOf: one function for every flow, no closure each */
  private nf: OpenedFlow | null = null;
  /** what namesOf looked up for it, null when evaluate() did not ask */
  private nfNames: readonly string[] | null = null;
  /** the peer's names, looked up only when evaluate() asks (a name rule could decide) */
  private readonly namesOf = (): readonly string[] => {
    const f = this.nf!;
    return (this.nfNames ??= this.ctx.inventory.namesFor(f.src, this.nfDst, f.time, undefined, this.nfDstKey));
  };
  /** its peer's text, made only when read (a reused flow formats it then) */
  private readonly nfDst = (): string => this.nf!.dst;
  private nfDstKey: number | string = 0;

  constructor(private readonly ctx: DetectContext) {
    this.traffic = new FlowTraffic(ctx.reporter, () => ctx.settings.parkMax);
  }

  flowStart(j: JudgedFlow): void {
    if (j.consumed || !j.srcWatched) return;
    const p = j.policy, f = j.f;
    const profile = this.ctx.profileOf(p, f.src, f.srcMac);
    // `mud` and `learn` devices are judged by their MUD file and learned profile (not here)
    if (RESERVED.has(profile)) return;
    const flow = this.facts;
    flow.proto = f.proto; flow.dst = this.nfDst; flow.dport = f.dport; flow.sport = f.sport; flow.dstKey = j.dstKey;
    this.nf = f;
    this.nfDstKey = j.dstKey;
    this.nfNames = null;
    const v = p.evaluate(profile, flow, this.namesOf, this.ctx.evalContext(f.src));
    // a denied flow's anomaly names the peer whether or not a name rule asked
    const known = v.allowed || v.awaitingName ? null : this.namesOf();
    this.nf = null;
    if (v.allowed) return;
    if (v.awaitingName) {
      this.park(p, f, profile);
      return;
    }
    this.denied(p, f, known!.length ? known![0] : '', f.bytes, 1, true);
  }

  flowName(flowId: number, name: string): void {
    const pk = this.parked.get(flowId);
    if (!pk) {
      // judged already: the name still tells whom the open anomaly is about
      const key = this.traffic.keyOf(flowId);
      if (key !== undefined) this.ctx.reporter.peerName?.(key, name);
      return;
    }
    this.parked.delete(flowId);
    this.counters.parkedJudgedOnName++;
    this.judgeParked(this.ctx.policy(), pk, name, pk.f.bytes, 1, true);
  }

  flowRecord(r: FlowRecord): void {
    const pk = this.parked.get(r.id);
    if (pk && (r.final || r.serverName)) {
      this.parked.delete(r.id);
      if (r.serverName) this.counters.parkedJudgedOnName++;
      else this.counters.parkedJudgedAtEnd++;
      this.judgeParked(this.ctx.policy(), pk, r.serverName ?? '', r.bytes + r.bytesRev, r.packets + r.packetsRev, !r.final);
      this.traffic.counted(r);
      return;
    }
    this.traffic.record(r);
  }

  flush(): void {
    const p = this.ctx.policy();
    for (const [id, pk] of this.parked) {
      this.parked.delete(id);
      this.counters.parkedJudgedAtFlush++;
      this.judgeParked(p, pk, '', pk.f.bytes, 1, false);
    }
    this.traffic.clear();
  }

  /** A reloaded policy allows what a denied flow did: the anomaly closes. */
  allows(a: Anomaly, p: CompiledPolicy): boolean {
    // inbound violations (rule "...allow_in") are device-exposed.ts's to judge
    if (!KINDS.has(a.kind) || !p.isWatched(a.ip) || a.rule.endsWith('.allow_in')) return false;
    const profile = this.ctx.profileOf(p, a.ip, a.mac);
    const proto = a.proto === 'tcp' || a.proto === 'udp' || a.proto === 'icmp' || a.proto === 'icmpv6' ? a.proto : Number(a.proto);
    const names = a.peerName ? [a.peerName] : [];
    // the anomaly keeps no source port: a `from_ports` rule cannot be told to allow it
    const v = p.evaluate(profile, { proto, dst: a.peer, dport: a.peerPort }, names, this.ctx.evalContext(a.ip));
    return v.allowed;
  }

  stats(): Record<string, number> {
    return { ...this.counters, parked: this.parked.size };
  }

  private park(p: CompiledPolicy, f: OpenedFlow, profile: string): void {
    if (this.parked.size >= this.ctx.settings.parkMax) {
      // never silently skipped: the oldest parked flow is judged with what is known now
      const id = this.parkedOldest.key()!;
      const old = this.parked.get(id)!;
      this.parked.delete(id);
      this.counters.parkedEvicted++;
      this.judgeParked(p, old, '', old.f.bytes, 1, false);
    }
    // a copy: f may be the caller's FlowStart, which is only ours during flowStart()
    const own: OpenedFlow = { id: f.id, time: f.time, proto: f.proto, src: f.src, sport: f.sport, dst: f.dst, dport: f.dport,
      srcMac: f.srcMac, dstMac: f.dstMac, vlan: f.vlan, bytes: f.bytes };
    this.parked.set(f.id, { f: own, profile });
  }

  /** Final word on a parked flow: DNS names (at its first packet) plus the name it carried. */
  private judgeParked(p: CompiledPolicy, pk: Parked, name: string, bytes: number, packets: number, track: boolean): void {
    const f = pk.f;
    const dns = this.ctx.inventory.namesFor(f.src, f.dst, f.time);
    const names = !name ? dns : dns.length === 0 ? [name] : [name, ...dns];
    const v = p.evaluate(pk.profile, { proto: f.proto, dst: f.dst, dport: f.dport, sport: f.sport }, names, this.ctx.evalContext(f.src));
    if (v.allowed) return;
    // parked for a domain rule, and still no name: the anomaly says no name was known
    this.denied(p, f, names.length ? names[0] : '', bytes, packets, track, names.length === 0);
  }

  /** A denied flow of a watched device: one anomaly, the most specific kind. */
  private denied(p: CompiledPolicy, f: OpenedFlow, peerName: string, bytes: number, packets: number, track: boolean, unnamed = false): void {
    if (this.ctx.scanningSince(f.src, f.dst, f.time) >= 0) {
      // the scan's anomaly stands for it
      this.counters.foldedIntoScan++;
      return;
    }
    const s = this.ctx.subject(p, f.src, f.srcMac, true);
    const seg = p.protectedSegment(f.dst);
    const settings = this.ctx.settings;
    let init: AnomalyInit;
    if (seg !== '') {
      const svc = plaintextPort(settings.plaintextPorts, f.proto, f.dport)?.name ?? dnsPort(settings.dnsPorts, f.proto, f.dport)?.name ?? '';
      init = segmentCrossing(s, f, seg, peerName, svc, bytes, packets);
    } else {
      const dns = dnsPort(settings.dnsPorts, f.proto, f.dport);
      init = dns && !p.isResolver(f.dst) ? dnsBypass(s, f, dns, peerName, bytes, packets) : policyViolation(s, f, peerName, bytes, packets, unnamed);
    }
    const key = this.ctx.reporter.report(init);
    if (track) {
      this.traffic.track(f.id, key, f.time, bytes, packets);
    }
  }
}

export const allowlistDetector: DetectorDef = {
  name: 'allowlist',
  kinds: { 'policy.violation': 'high', 'segment.crossing': 'critical', 'dns.bypass': 'high' },
  create: (ctx) => new Allowlist(ctx),
};
