// The detection stage: takes flow and device events in packet-time order, asks the
// compiled policy and the inventory, runs each detector and files anomalies with the
// suppression stage. It never delivers anywhere itself: emit/onFirst are the caller's.
//
// Who "the device" is: an address in a watched segment, and, when policy.vlan is set, only
// on frames of that VLAN (vlan 0 = untagged is then not watched). A flow the watched
// device opened is judged against its profile; a flow someone else opened to it is not
// its flow (no policy.violation), unless the opener is itself watched (then it is the
// opener's flow). Clear text and scans are judged either way.

import type { Anomaly, Device, FlowRecord, FlowStart, Log } from '../types.js';
import { silentLog } from '../types.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { BindingConflict, InventoryView } from '../inventory/types.js';
import type { AnomalyInit, Reporter, Subject } from './anomaly.js';
import { deviceLabel, makeAnomaly } from './anomaly.js';
import type { OpenedFlow } from './flow.js';
import { isGroupAddress, orient } from './flow.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectSettings } from './settings.js';
import { resolveSettings } from './settings.js';
import { Suppressor, keyOf } from './suppress.js';
import { policyViolation } from './policy-violation.js';
import { segmentCrossing } from './segment-crossing.js';
import { dnsBypass, dnsPort } from './dns-bypass.js';
import { plaintextPort, protocolPlaintext } from './protocol-plaintext.js';
import { ScanHosts } from './scan-hosts.js';
import { ScanPorts } from './scan-ports.js';
import { VolumeLimit } from './volume-limit.js';
import { DeviceNew } from './device-new.js';
import { deviceSpoof } from './device-spoof.js';

export interface DetectEngineOptions {
  /** the current policy (reloads take effect at the next event). */
  policy: () => CompiledPolicy;
  inventory: InventoryView;
  settings?: Partial<DetectSettings>;
  /** aggregated anomalies, once per (device, kind, peer, port) per suppression window. */
  emit: (a: Anomaly) => void;
  /** first occurrence of each aggregate, at once: for alert sinks. */
  onFirst?: (a: Anomaly) => void;
  /** device ids already reported as new (persisted across runs by the caller). */
  seen?: Set<string>;
  log?: Log;
}

/** Counters for the API and metrics. */
export interface DetectStats {
  flowsJudged: number;
  parked: number;
  parkedJudgedOnName: number;
  parkedJudgedAtEnd: number;
  parkedJudgedAtFlush: number;
  parkedEvicted: number;
  foldedIntoScan: number;
  suppressed: number;
  emitted: number;
}

/** addrFacts() bits: in a watched segment; broadcast or multicast */
const WATCHED = 1, GROUP = 2;
/** addresses whose facts are remembered; beyond it they are forgotten and learned again */
const ADDR_FACTS_MAX = 65_536;

interface Parked {
  f: OpenedFlow;
  profile: string;
}

/** The anomaly a flow raised, so its later bytes join the aggregate. */
interface FlowTraffic {
  key: string;
  /** start of the record last counted: a record with another start is a delta (counters restarted). */
  start: number;
  bytes: number;
  packets: number;
}

export class DetectEngine {
  readonly settings: DetectSettings;
  private readonly opts: DetectEngineOptions;
  private readonly inv: InventoryView;
  private readonly log: Log;
  private readonly suppress: Suppressor;
  private readonly reporter: Reporter;
  private readonly scanHosts: ScanHosts;
  private readonly scanPorts: ScanPorts;
  private readonly volume: VolumeLimit;
  private readonly deviceNew: DeviceNew;
  private readonly parked = new Map<number, Parked>();
  private readonly flowTraffic = new Map<number, FlowTraffic>();
  /** cumulative totals of flows that sent interim records, for volume deltas. */
  private readonly interim = new Map<number, { start: number; bytes: number }>();
  private deviceIpsCache: Map<string, string[]> | null = null;
  /** addrFacts() by addrKey(), for factsPolicy */
  private readonly facts = new Map<number | string, number>();
  private factsPolicy: CompiledPolicy | null = null;
  /** anyLimits() for limitsPolicy */
  private limitsPolicy: CompiledPolicy | null = null;
  private limitsAny = false;
  private readonly spoofCritical: Set<string>;
  private readonly counters = {
    flowsJudged: 0, parkedJudgedOnName: 0, parkedJudgedAtEnd: 0, parkedJudgedAtFlush: 0,
    parkedEvicted: 0, foldedIntoScan: 0,
  };

  constructor(opts: DetectEngineOptions) {
    this.opts = opts;
    this.inv = opts.inventory;
    this.log = opts.log ?? silentLog;
    this.settings = resolveSettings(opts.settings);
    this.spoofCritical = new Set(this.settings.spoofCriticalIps);
    this.suppress = new Suppressor({
      windowMs: this.settings.suppressWindowMs, maxEntries: this.settings.suppressMaxEntries,
      emit: opts.emit, onFirst: opts.onFirst,
    });
    const sev = this.settings.severity;
    this.reporter = {
      report: (init: AnomalyInit) => {
        // a repeat joins its aggregate without an Anomaly (and its ISO times) built for it
        const key = keyOf(init.subject.device, init.kind, init.peer ?? '', init.peerPort ?? 0, init.rule ?? '');
        const last = init.lastSeen ?? init.time;
        if (this.suppress.fold(key, init.count ?? 1, init.time, last, init.bytes ?? 0, init.packets ?? 0)) return key;
        return this.suppress.submit(makeAnomaly(init, sev), init.time, last);
      },
      bump: (key, count, time) => this.suppress.bump(key, count, time),
    };
    this.scanHosts = new ScanHosts(this.settings, this.reporter);
    this.scanPorts = new ScanPorts(this.settings, this.reporter);
    this.volume = new VolumeLimit(this.reporter);
    this.deviceNew = new DeviceNew(opts.seen);
  }

  /** A flow's first packet. fsSrcKey/fsDstKey: addrKey() of fs.src/fs.dst, for a caller that has them already. */
  flowStart(fs: FlowStart, fsSrcKey: number | string = addrKey(fs.src), fsDstKey: number | string = addrKey(fs.dst)): void {
    const p = this.opts.policy();
    const f = orient(fs);
    // orient() hands back fs itself unless it turned the flow round
    const srcKey = f === fs ? fsSrcKey : fsDstKey, dstKey = f === fs ? fsDstKey : fsSrcKey;
    const inVlan = p.vlan === undefined || f.vlan === p.vlan;
    const srcWatched = inVlan && (this.addrFacts(p, f.src, srcKey) & WATCHED) !== 0;
    const dstFacts = this.addrFacts(p, f.dst, dstKey);
    const dstWatched = inVlan && (dstFacts & WATCHED) !== 0;
    if (!srcWatched && !dstWatched) return;
    this.counters.flowsJudged++;

    if ((dstFacts & GROUP) === 0) {
      const sj = this.scanSubjectOf;
      sj.p = p; sj.ip = f.src; sj.mac = f.srcMac; sj.watched = srcWatched;
      const hostScan = this.scanHosts.observe(f.src, f.dst, f.proto, f.dport, f.time, this.scanSubject, srcKey, dstKey);
      const portScan = this.scanPorts.observe(f.src, f.dst, f.proto, f.dport, f.time, this.scanSubject, srcKey, dstKey);
      if (hostScan >= 0 || portScan >= 0) {
        // the scan anomaly stands for this flow and, from when it is raised, for the ones before it
        if (this.scanHosts.raisedNow || this.scanPorts.raisedNow) this.absorbScanned(p, f, srcWatched, hostScan, portScan);
        this.counters.foldedIntoScan++;
        return;
      }
    }

    const pt = plaintextPort(this.settings.plaintextPorts, f.proto, f.dport);
    if (pt) {
      const s = srcWatched ? this.subject(p, f.src, f.srcMac, true) : this.subject(p, f.dst, f.dstMac, true);
      this.reporter.report(protocolPlaintext(s, f.time, srcWatched ? f.dst : f.src, f.proto, f.dport, pt.name,
        srcWatched, f.bytes, 1));
    }
    if (!srcWatched) return;

    const profile = this.profileOf(p, f.src, f.srcMac);
    const names = this.inv.namesFor(f.src, f.dst, f.time);
    const v = p.evaluate(profile, { proto: f.proto, dst: f.dst, dport: f.dport }, names, this.deviceIps);
    if (v.allowed) return;
    if (v.awaitingName) {
      this.park(p, f, profile);
      return;
    }
    this.denied(p, f, names.length ? names[0] : '', f.bytes, 1, true);
  }

  /** A TLS SNI or HTTP Host arrived on a flow: a parked flow is judged now. */
  flowName(flowId: number, name: string, source: 'sni' | 'http'): void {
    const pk = this.parked.get(flowId);
    if (!pk) return;
    this.parked.delete(flowId);
    this.counters.parkedJudgedOnName++;
    this.judgeParked(pk, name, pk.f.bytes, 1, true);
    this.log.debug({ flowId, name, source }, 'parked flow judged on name');
  }

  /** The pipeline saw a clear-text credential (HTTP Authorization: Basic) in a flow. */
  plaintextSignal(fs: FlowStart, what: 'http-basic-auth' | string): void {
    const p = this.opts.policy();
    const f = orient(fs);
    const srcWatched = this.watched(p, f.src, f.vlan);
    const dstWatched = this.watched(p, f.dst, f.vlan);
    if (!srcWatched && !dstWatched) return;
    const s = srcWatched ? this.subject(p, f.src, f.srcMac, true) : this.subject(p, f.dst, f.dstMac, true);
    this.reporter.report(protocolPlaintext(s, f.time, srcWatched ? f.dst : f.src, f.proto, f.dport, what,
      srcWatched, 0, 0));
  }

  /** An interim or final flow record. */
  flowRecord(r: FlowRecord): void {
    const p = this.opts.policy();
    // bytes since the previous record of this flow: the flow table sends deltas (a new start
    // each interim record); a source that repeats the start sends totals
    let dBytes = r.bytes + r.bytesRev;
    const prev = this.interim.get(r.id);
    if (prev && prev.start === r.start && dBytes >= prev.bytes) dBytes -= prev.bytes;
    if (r.final) this.interim.delete(r.id);
    else this.interim.set(r.id, { start: r.start, bytes: r.bytes + r.bytesRev });

    this.account(p, r.src, r.srcMac, r.vlan, dBytes, r.end);
    this.account(p, r.dst, r.dstMac, r.vlan, dBytes, r.end);

    const pk = this.parked.get(r.id);
    if (pk && (r.final || r.serverName)) {
      this.parked.delete(r.id);
      if (r.serverName) this.counters.parkedJudgedOnName++;
      else this.counters.parkedJudgedAtEnd++;
      const total = r.bytes + r.bytesRev, pkts = r.packets + r.packetsRev;
      this.judgeParked(pk, r.serverName ?? '', total, pkts, !r.final);
      const ft = this.flowTraffic.get(r.id);
      if (ft) ft.start = r.start;
      return;
    }
    const ft = this.flowTraffic.get(r.id);
    if (ft) {
      const total = r.bytes + r.bytesRev, pkts = r.packets + r.packetsRev;
      // the flow table restarts its counters at each interim record (NetFlow style); a record
      // with the same start as the last one counted carries totals instead
      const same = r.start === ft.start;
      const db = same ? Math.max(0, total - ft.bytes) : total, dp = same ? Math.max(0, pkts - ft.packets) : pkts;
      if (db > 0 || dp > 0) this.suppress.addTraffic(ft.key, db, dp, r.end);
      ft.start = r.start; ft.bytes = total; ft.packets = pkts;
      if (r.final) this.flowTraffic.delete(r.id);
    }
  }

  /** A device appeared or changed (inventory event). */
  device(d: Device, change: 'new' | 'updated'): void {
    this.deviceIpsCache = null;
    const p = this.opts.policy();
    let watchedIp = '';
    for (const ip of d.ips) if (p.isWatched(ip)) { watchedIp = ip; break; }
    if (watchedIp === '' || d.known) return;
    const init = this.deviceNew.check(d, watchedIp, this.subjectOfDevice(p, d, watchedIp));
    if (init) this.reporter.report(init);
    void change;
  }

  /** An address claimed by a second MAC (inventory event). */
  conflict(c: BindingConflict): void {
    const p = this.opts.policy();
    const critical = p.isResolver(c.ip) || this.spoofCritical.has(c.ip);
    // off-segment addresses all sit behind the router's MAC: only watched ones can be stolen here
    if (!critical && !p.isWatched(c.ip)) return;
    const claimant = this.inv.deviceByMac(c.newMac);
    const holder = this.inv.deviceByMac(c.oldMac);
    const s: Subject = {
      device: claimant ? deviceLabel(claimant, c.newMac) : c.newMac,
      mac: c.newMac, ip: c.ip,
      segment: p.segmentOf(c.ip),
      profile: claimant?.profile ?? '',
    };
    this.reporter.report(deviceSpoof(c, s, holder ? deviceLabel(holder, c.oldMac) : c.oldMac, critical));
  }

  /** Time-based work, on packet time: scan windows and suppression windows. */
  tick(now: number): void {
    this.scanHosts.tick(now);
    this.scanPorts.tick(now);
    this.suppress.tick(now);
  }

  /** End of input: judge every parked flow and emit everything held. */
  flush(): void {
    const p = this.opts.policy();
    for (const [id, pk] of this.parked) {
      this.parked.delete(id);
      this.counters.parkedJudgedAtFlush++;
      this.judgeParkedWith(p, pk, '', pk.f.bytes, 1, false);
    }
    this.flowTraffic.clear();
    this.interim.clear();
    this.suppress.flush();
  }

  stats(): DetectStats {
    return {
      ...this.counters, parked: this.parked.size,
      suppressed: this.suppress.folded, emitted: this.suppress.emitted,
    };
  }

  // ---- internals

  private watched(p: CompiledPolicy, ip: string, vlan: number): boolean {
    return (p.vlan === undefined || vlan === p.vlan) && (this.addrFacts(p, ip, addrKey(ip)) & WATCHED) !== 0;
  }

  /**
   * WATCHED and GROUP of an address under policy p, remembered per address: every flow asks
   * for both ends, and a segment look-up parses the text. Forgotten when the policy changes.
   */
  private addrFacts(p: CompiledPolicy, ip: string, key: number | string): number {
    if (p !== this.factsPolicy) {
      this.facts.clear();
      this.factsPolicy = p;
    }
    let v = this.facts.get(key);
    if (v === undefined) {
      if (this.facts.size >= ADDR_FACTS_MAX) this.facts.clear();
      v = (p.isWatched(ip) ? WATCHED : 0) | (isGroupAddress(ip) ? GROUP : 0);
      this.facts.set(key, v);
    }
    return v;
  }

  /**
   * The scanner as anomaly fields, for the scan detectors: they ask only when they raise, during
   * observe(), so one function over fields set per flow serves every flow without a closure each.
   */
  private readonly scanSubjectOf = { p: null as CompiledPolicy | null, ip: '', mac: '', watched: false };
  private readonly scanSubject = (): Subject => {
    const a = this.scanSubjectOf;
    return this.subject(a.p!, a.ip, a.mac, a.watched);
  };

  /** `device:NAME` rules: the named device's current addresses (from the inventory). */
  private readonly deviceIps = (name: string): readonly string[] => {
    if (!this.deviceIpsCache) {
      const m = new Map<string, string[]>();
      for (const d of this.inv.devices()) {
        if (!d.name) continue;
        const l = m.get(d.name);
        if (l) l.push(...d.ips); else m.set(d.name, [...d.ips]);
      }
      this.deviceIpsCache = m;
    }
    return this.deviceIpsCache.get(name) ?? [];
  };

  private profileOf(p: CompiledPolicy, ip: string, mac: string): string {
    const d = this.inv.deviceByIp(ip);
    if (d?.profile) return d.profile;
    return p.place({ mac: d?.mac || mac, ip, vendor: d?.vendor ?? '', hostname: d?.hostname ?? '' }).profile;
  }

  /** The device at ip as anomaly fields; watched devices get their profile. */
  private subject(p: CompiledPolicy, ip: string, mac: string, watched: boolean): Subject {
    const d = this.inv.deviceByIp(ip) ?? (mac ? this.inv.deviceByMac(mac) : undefined);
    if (d) return this.subjectOfDevice(p, d, ip, watched);
    const place = watched ? p.place({ mac, ip, vendor: '', hostname: '' }) : undefined;
    return { device: place?.name || ip, mac, ip, segment: p.segmentOf(ip), profile: place?.profile ?? '' };
  }

  private subjectOfDevice(p: CompiledPolicy, d: Device, ip: string, watched = true): Subject {
    let name = d.name, profile = d.profile;
    if (watched && !profile) {
      const place = p.place({ mac: d.mac, ip, vendor: d.vendor, hostname: d.hostname });
      name = name || place.name;
      profile = profile || place.profile;
    }
    return {
      device: name || d.hostname || d.id || ip, mac: d.mac, ip,
      segment: d.segment || p.segmentOf(ip), profile: watched ? profile : '',
    };
  }

  private park(p: CompiledPolicy, f: OpenedFlow, profile: string): void {
    if (this.parked.size >= this.settings.parkMax) {
      // never silently skipped: the oldest parked flow is judged with what is known now
      const [id, old] = this.parked.entries().next().value as [number, Parked];
      this.parked.delete(id);
      this.counters.parkedEvicted++;
      this.judgeParkedWith(p, old, '', old.f.bytes, 1, false);
    }
    // a copy: f may be the caller's FlowStart, which is only the engine's during flowStart()
    const own: OpenedFlow = { id: f.id, time: f.time, proto: f.proto, src: f.src, sport: f.sport, dst: f.dst, dport: f.dport,
      srcMac: f.srcMac, dstMac: f.dstMac, vlan: f.vlan, bytes: f.bytes };
    this.parked.set(f.id, { f: own, profile });
  }

  private judgeParked(pk: Parked, name: string, bytes: number, packets: number, track: boolean): void {
    this.judgeParkedWith(this.opts.policy(), pk, name, bytes, packets, track);
  }

  /** Final word on a parked flow: DNS names (at its first packet) plus the name it carried. */
  private judgeParkedWith(p: CompiledPolicy, pk: Parked, name: string, bytes: number, packets: number, track: boolean): void {
    const f = pk.f;
    const dns = this.inv.namesFor(f.src, f.dst, f.time);
    const names = name ? [name, ...dns] : dns;
    const v = p.evaluate(pk.profile, { proto: f.proto, dst: f.dst, dport: f.dport }, names, this.deviceIps);
    if (v.allowed) return;
    this.denied(p, f, names.length ? names[0] : '', bytes, packets, track);
  }

  /** A denied flow of a watched device: one anomaly, the most specific kind. */
  private denied(p: CompiledPolicy, f: OpenedFlow, peerName: string, bytes: number, packets: number, track: boolean): void {
    if (this.scanHosts.scanningSince(f.src, f.time) >= 0 || this.scanPorts.scanningSince(f.src, f.dst, f.time) >= 0) {
      this.counters.foldedIntoScan++;
      return;
    }
    const s = this.subject(p, f.src, f.srcMac, true);
    const seg = p.protectedSegment(f.dst);
    let init: AnomalyInit;
    if (seg !== '') {
      const svc = plaintextPort(this.settings.plaintextPorts, f.proto, f.dport)?.name
        ?? dnsPort(this.settings.dnsPorts, f.proto, f.dport)?.name ?? '';
      init = segmentCrossing(s, f, seg, peerName, svc, bytes, packets);
    } else {
      const dns = dnsPort(this.settings.dnsPorts, f.proto, f.dport);
      init = dns && !p.isResolver(f.dst)
        ? dnsBypass(s, f, dns, peerName, bytes, packets)
        : policyViolation(s, f, peerName, bytes, packets);
    }
    const key = this.reporter.report(init);
    if (track) {
      if (this.flowTraffic.size >= this.settings.parkMax) this.flowTraffic.delete(this.flowTraffic.keys().next().value as number);
      this.flowTraffic.set(f.id, { key, start: f.time, bytes, packets });
    }
  }

  /** Volume for the watched side(s) of a record. */
  private account(p: CompiledPolicy, ip: string, mac: string, vlan: number, bytes: number, time: number): void {
    if (bytes <= 0 || !this.anyLimits(p) || !this.watched(p, ip, vlan)) return;
    const d = this.inv.deviceByIp(ip);
    const profile = this.profileOf(p, ip, mac);
    const limits = p.limits(profile);
    if (limits.bytesPerHour === undefined && limits.bytesPerDay === undefined) return;
    this.volume.add(d?.id ?? ip, bytes, time, limits, () => this.subject(p, ip, mac, true));
  }

  /**
   * Whether any profile of p has a byte limit: without one, no record needs its device and
   * profile looked up (a profile p does not define has no limits).
   */
  private anyLimits(p: CompiledPolicy): boolean {
    if (p !== this.limitsPolicy) {
      this.limitsPolicy = p;
      this.limitsAny = p.profiles().some((name) => {
        const l = p.limits(name);
        return l.bytesPerHour !== undefined || l.bytesPerDay !== undefined;
      });
    }
    return this.limitsAny;
  }

  /** Drop the per-flow anomalies a new scan anomaly stands for (they are still held). */
  private absorbScanned(p: CompiledPolicy, f: OpenedFlow, srcWatched: boolean, hostScan: number, portScan: number): void {
    const label = this.subject(p, f.src, f.srcMac, srcWatched).device;
    const target = f.dst;
    // per-flow findings of the scanner since the scan began, and clear-text hits it caused on its targets
    this.suppress.absorb((a, first) => {
      if (a.kind === 'scan.hosts' || a.kind === 'scan.ports' || a.kind === 'device.new' || a.kind === 'device.spoof' || a.kind === 'volume.limit') return false;
      // a sweep's telnet hits on watched targets (device = target, peer = scanner) are the sweep too
      if (hostScan >= 0 && first >= hostScan && (a.device === label || a.peer === f.src)) return true;
      if (a.device !== label) return false;
      return portScan >= 0 && first >= portScan && a.peer === target;
    });
  }
}
