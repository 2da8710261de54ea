// The detection stage: takes flow and device events in time order, works out who opened
// each flow and which ends are watched, hands every event to the registered detectors
// (registry.ts) in order, and files what they report with the lifecycle stage, which
// opens, updates and closes anomalies. It never delivers anywhere itself: `emit` is the
// caller's.
//
// Who "the device" is: an address in a watched segment, and, when policy.vlan is set, only
// on frames of that VLAN (vlan 0 = untagged is then not watched). A flow the watched
// device opened is judged against its profile; a flow someone else opened to it is not
// its flow (no policy.violation), unless the opener is itself watched (then it is the
// opener's flow). Clear text and scans are judged either way.

import type { Anomaly, AnomalyEvent, Device, FlowRecord, FlowStart, Log, Text } from '../types.js';
import { silentLog, textOf } from '../types.js';
import type { CompiledPolicy, EvalContext } from '../policy/types.js';
import type { BindingConflict, InventoryView } from '../inventory/types.js';
import type { AnomalyInit, Reporter, Subject } from './anomaly.js';
import { makeAnomaly } from './anomaly.js';
import { isGroupAddress, isGroupAddress4, opener } from './flow.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectSettings } from './settings.js';
import { resolveSettings } from './settings.js';
import { AnomalyLifecycle, causeKey } from './lifecycle.js';
import type { CollectorHealth, DetectContext, Detector, DetectorDef, DnsAnswerEvent, JudgedFlow, PayloadEvent } from './detector.js';
import { DETECTORS } from './registry.js';

export interface DetectEngineOptions {
  /** the current policy (reloads take effect at the next event). */
  policy: () => CompiledPolicy;
  inventory: InventoryView;
  settings?: Partial<DetectSettings>;
  /** every lifecycle event: opened at once, updated at most once per interval, closed. */
  emit: (event: AnomalyEvent, a: Anomaly) => void;
  /** LifecycleOptions.wants: false for an event no sink acts on (emit then gets no copy). */
  wants?: (event: AnomalyEvent) => boolean;
  /** device ids already reported as new (persisted across runs by the caller). */
  seen?: Set<string>;
  /** the detectors to run, in order; default: the registry. */
  detectors?: readonly DetectorDef[];
  log?: Log;
  /**
   * The one place findings are held back: true drops this report (a device still in its
   * learning period, `run --learn-for`, raises no policy.violation, volume.limit or device.new).
   */
  holdBack?: (init: AnomalyInit) => boolean;
}

/** addrFacts() bits: in a watched segment; broadcast or multicast */
const WATCHED = 1, GROUP = 2;
/** addresses whose facts are remembered; beyond it they are forgotten and learned again */
const ADDR_FACTS_MAX = 65_536;

/** addrFacts() of an IPv4 address by its key: no text parsed, nothing remembered */
function facts4(p: CompiledPolicy, key: number): number {
  return (p.isWatched4(key) ? WATCHED : 0) | (isGroupAddress4(key) ? GROUP : 0);
}

export class DetectEngine {
  readonly settings: DetectSettings;
  readonly lifecycle: AnomalyLifecycle;
  /** events a detector threw on (a bug): counted and logged, the others still ran. */
  detectorErrors = 0;
  flowsJudged = 0;
  /** flows with a watched end whose first packet (not a SYN) could not tell who opened them: nobody is judged as their opener. */
  directionUnknown = 0;
  /** reports dropped by holdBack (devices in their learning period). */
  heldBack = 0;
  private readonly opts: DetectEngineOptions;
  private readonly inv: InventoryView;
  private readonly log: Log;
  private readonly reporter: Reporter;
  private readonly detectors: Detector[] = [];
  private readonly names: string[] = [];
  /** detectors that asked for each event, so an event nobody wants costs nothing. */
  private readonly on: { [K in Exclude<keyof Detector, 'payloadPorts'>]-?: Detector[] };
  /**
   * 1 at each TCP port some detector wants payload of (Detector.payloadPorts): the app layer
   * tests a segment's two ports here, so other flows cost two array reads.
   */
  readonly payloadPorts = new Uint8Array(65536);
  private deviceIpsCache: Map<string, string[]> | null = null;
  /** addrFacts() of non-IPv4 addresses (their text parsed once) by addrKey(), for factsPolicy */
  private readonly facts = new Map<number | string, number>();
  private factsPolicy: CompiledPolicy | null = null;
  /** the policy the last tick saw: a different one is a reload. */
  private tickPolicy: CompiledPolicy | null = null;
  /** when an exception of the policy in force ends next: what it accepted is judged again */
  private exceptionEnd = Infinity;
  private readonly judged: JudgedFlow = {
    f: null as never, policy: null as never, srcKey: 0, dstKey: 0, srcWatched: false, dstWatched: false, group: false, consumed: false,
  };

  constructor(opts: DetectEngineOptions) {
    this.opts = opts;
    this.inv = opts.inventory;
    this.log = opts.log ?? silentLog;
    this.settings = resolveSettings(opts.settings);
    this.lifecycle = new AnomalyLifecycle({
      idleMs: this.settings.anomalyIdleMs, updateMs: this.settings.anomalyUpdateMs,
      maxOpen: this.settings.anomalyMaxOpen, emit: opts.emit, wants: opts.wants,
    });
    const sev = this.settings.severity;
    const lc = this.lifecycle;
    this.reporter = {
      report: (init: AnomalyInit) => {
        if (opts.holdBack?.(init)) {
          this.heldBack++;
          return '';
        }
        // a repeat joins its open anomaly without an Anomaly (and its ISO times) built for it
        const key = causeKey(init.subject.device, init.kind, init.peer ?? '', init.peerPort ?? 0, init.rule ?? '');
        if (lc.repeat(key, init.count ?? 1, init.time, init.lastSeen ?? init.time, init.bytes ?? 0, init.packets ?? 0)) return key;
        const a = makeAnomaly(init, sev);
        // an exception accepts it: stored and shown as suppressed, not alerted
        a.suppressed = opts.policy().suppresses(a, init.time);
        return lc.submitNew(key, a, init.time, init.lastSeen ?? init.time);
      },
      bump: (key, count, time) => lc.repeat(key, count, time, time, 0, 0),
      addTraffic: (key, bytes, packets, time) => lc.addTraffic(key, bytes, packets, time),
      peerName: (key, name) => lc.peerName(key, name),
      // rare (a condition that ended): a walk of the open anomalies is fine
      clear: (key) => lc.closeWhere((a) => causeKey(a.device, a.kind, a.peer, a.peerPort, a.rule) === key, 'cleared') > 0,
    };
    const ctx: DetectContext = {
      settings: this.settings,
      inventory: this.inv,
      reporter: this.reporter,
      log: this.log,
      seenDevices: opts.seen ?? new Set(),
      policy: opts.policy,
      subject: (p, ip, mac, watched) => this.subject(p, ip, mac, watched),
      subjectOfDevice: (p, d, ip) => this.subjectOfDevice(p, d, ip),
      profileOf: (p, ip, mac, key) => this.profileOf(p, ip, mac, key),
      watched: (p, ip, vlan, key) => this.watched(p, ip, vlan, key),
      deviceIps: this.deviceIps,
      evalContext: (ip) => {
        this.evalSelf = ip;
        return this.evalCtx;
      },
      scanningSince: (src, dst, time) => {
        for (const d of this.on.scanningSince) {
          const since = d.scanningSince!(src, dst, time);
          if (since >= 0) return since;
        }
        return -1;
      },
    };
    for (const def of opts.detectors ?? DETECTORS) {
      this.detectors.push(def.create(ctx));
      this.names.push(def.name);
    }
    const want = <K extends Exclude<keyof Detector, 'payloadPorts'>>(k: K) => this.detectors.filter((d) => typeof d[k] === 'function');
    this.on = {
      flowStart: want('flowStart'), flowName: want('flowName'), flowRecord: want('flowRecord'), dnsAnswer: want('dnsAnswer'),
      claim: want('claim'), device: want('device'), signal: want('signal'), payload: want('payload'), tick: want('tick'), health: want('health'), flush: want('flush'),
      allows: want('allows'), stats: want('stats'), scanningSince: want('scanningSince'),
    };
    for (const d of this.on.payload) for (const port of d.payloadPorts ?? []) if (port >= 0 && port < 65536) this.payloadPorts[port] = 1;
  }

  /** some detector wants TCP payload (ports in payloadPorts, or HTTP Basic auth heads). */
  get wantsPayload(): boolean {
    return this.on.payload.length > 0;
  }

  /** some detector wants DNS answers (the pipeline builds the event only then). */
  get wantsDnsAnswers(): boolean {
    return this.on.dnsAnswer.length > 0;
  }

  /** A flow's first packet. fsSrcKey/fsDstKey: addrKey() of fs.src/fs.dst, for a caller that has them already. */
  flowStart(fs: FlowStart, fsSrcKey: number | string = addrKey(fs.src), fsDstKey: number | string = addrKey(fs.dst)): void {
    const p = this.opts.policy();
    const o = opener(fs);
    // a late segment, an ICMP error, a discovery reply: part of a flow judged before
    if (o === 'none') return;
    if (o === 'unknown') {
      const inVlan = p.vlan === undefined || fs.vlan === p.vlan;
      if (inVlan && ((this.endFacts(p, fs, 0, fsSrcKey) | this.endFacts(p, fs, 1, fsDstKey)) & WATCHED) !== 0) this.directionUnknown++;
      return;
    }
    const f = o;
    // opener() hands back fs itself unless it turned the flow round
    const srcKey = f === fs ? fsSrcKey : fsDstKey, dstKey = f === fs ? fsDstKey : fsSrcKey;
    const inVlan = p.vlan === undefined || f.vlan === p.vlan;
    const srcWatched = inVlan && (this.endFacts(p, f, 0, srcKey) & WATCHED) !== 0;
    const dstFacts = this.endFacts(p, f, 1, dstKey);
    const dstWatched = inVlan && (dstFacts & WATCHED) !== 0;
    if (!srcWatched && !dstWatched) return;
    this.flowsJudged++;
    const j = this.judged;
    j.f = f; j.policy = p; j.srcKey = srcKey; j.dstKey = dstKey;
    j.srcWatched = srcWatched; j.dstWatched = dstWatched; j.group = (dstFacts & GROUP) !== 0; j.consumed = false;
    const ds = this.on.flowStart;
    for (let i = 0; i < ds.length; i++) {
      try {
        ds[i].flowStart!(j);
      } catch (err) {
        this.detectorError(ds[i], err);
      }
    }
    j.f = null as never;
  }

  /** A TLS SNI or HTTP Host arrived on a flow. */
  flowName(flowId: number, name: string): void {
    for (const d of this.on.flowName) this.guard(d, () => d.flowName!(flowId, name));
  }

  /** Something seen in a flow's payload, e.g. a clear-text credential ("http-basic-auth"). */
  signal(fs: FlowStart, what: string): void {
    for (const d of this.on.signal) this.guard(d, () => d.signal!(fs, what));
  }

  /** A TCP segment's payload (see PayloadEvent); the event object is the caller's, reused. */
  payload(ev: PayloadEvent): void {
    const ds = this.on.payload;
    for (let i = 0; i < ds.length; i++) {
      try {
        ds[i].payload!(ev);
      } catch (err) {
        this.detectorError(ds[i], err);
      }
    }
  }

  /** An interim or final flow record. */
  flowRecord(r: FlowRecord): void {
    const ds = this.on.flowRecord;
    for (let i = 0; i < ds.length; i++) {
      try {
        ds[i].flowRecord!(r);
      } catch (err) {
        this.detectorError(ds[i], err);
      }
    }
  }

  dnsAnswer(ev: DnsAnswerEvent): void {
    for (const d of this.on.dnsAnswer) this.guard(d, () => d.dnsAnswer!(ev));
  }

  /** A device appeared or changed (inventory event). */
  device(d: Device, change: 'new' | 'updated'): void {
    this.deviceIpsCache = null;
    for (const x of this.on.device) this.guard(x, () => x.device!(d, change));
  }

  /** An address claimed by a second MAC (inventory event). */
  conflict(c: BindingConflict): void {
    for (const d of this.on.claim) this.guard(d, () => d.claim!(c));
  }

  /** The collector's own figures (every health interval). */
  health(h: CollectorHealth): void {
    for (const d of this.on.health) this.guard(d, () => d.health!(h));
  }

  /** Time-based work: detectors' windows, then the lifecycle (updates, idle closes). */
  tick(now: number): void {
    const p = this.opts.policy();
    if (p !== this.tickPolicy || now > this.exceptionEnd) {
      // a reload, or an exception's end: open anomalies are marked suppressed again (or not)
      const n = this.lifecycle.resuppress((a) => p.suppresses(a, now));
      if (n) this.log.info({ changed: n }, 'exceptions changed: open anomalies marked suppressed or not');
      this.exceptionEnd = p.nextExceptionEnd(now);
    }
    if (p !== this.tickPolicy) {
      if (this.tickPolicy !== null) this.reloaded(p);
      this.tickPolicy = p;
    }
    for (const d of this.on.tick) this.guard(d, () => d.tick!(now));
    this.lifecycle.tick(now);
  }

  /**
   * End of input. Detectors judge what they hold; then every open anomaly closes (`close`,
   * the default: a replay or a capture file ended) or is written as it is and stays open
   * (the collector stops and the next run goes on with it).
   */
  flush(close = true): void {
    for (const d of this.on.flush) this.guard(d, () => d.flush!());
    if (close) this.lifecycle.closeAll('end');
    else this.lifecycle.writeOpen();
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = { flowsJudged: this.flowsJudged, directionUnknown: this.directionUnknown, heldBack: this.heldBack, detectorErrors: this.detectorErrors, ...this.lifecycle.counters, open: this.lifecycle.size };
    for (const d of this.on.stats) Object.assign(out, d.stats!());
    return out;
  }

  // ---- internals

  /** A new policy is in force: anomalies it now allows close. */
  private reloaded(p: CompiledPolicy): void {
    if (this.on.allows.length === 0) return;
    const n = this.lifecycle.closeWhere((a) => this.on.allows.some((d) => {
      try {
        return d.allows!(a, p);
      } catch (err) {
        this.detectorError(d, err);
        return false;
      }
    }), 'allowed');
    if (n) this.log.info({ closed: n }, 'policy reload: anomalies it now allows are closed');
  }

  private guard(d: Detector, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.detectorError(d, err);
    }
  }

  private detectorError(d: Detector, err: unknown): void {
    // A detector's bug costs that event for that detector, not the collector.
    this.detectorErrors++;
    if (this.detectorErrors <= 10 || this.detectorErrors % 10_000 === 0) {
      this.log.error({ detector: this.names[this.detectors.indexOf(d)], err: (err as Error)?.stack ?? String(err), count: this.detectorErrors }, 'a detector failed on an event');
    }
  }

  // the last two addresses watched() was asked about, by IPv4 key or else by text: each
  // detector that reads flow records asks of a record's two ends in turn, so all but the first
  // ask are answered here (an IPv4 key's facts come from its value through the policy's small
  // trie, which costs less than a table of answers a sweep's new hosts never find)
  private wPolicy: CompiledPolicy | null = null;
  private w0: number | string | undefined = undefined;
  private wF0 = 0;
  private w1: number | string | undefined = undefined;
  private wF1 = 0;

  private watched(p: CompiledPolicy, ip: Text, vlan: number, key?: number | string): boolean {
    if (p.vlan !== undefined && vlan !== p.vlan) return false;
    if (p !== this.wPolicy) {
      this.wPolicy = p;
      this.w0 = this.w1 = undefined;
    }
    const k = typeof key === 'number' ? key : textOf(ip);
    let f: number;
    if (k === this.w0) f = this.wF0;
    else if (k === this.w1) f = this.wF1;
    else {
      f = typeof k === 'number' ? facts4(p, k) : this.addrFacts(p, k, key ?? addrKey(k));
      this.w1 = this.w0; this.wF1 = this.wF0;
      this.w0 = k; this.wF0 = f;
    }
    return (f & WATCHED) !== 0;
  }

  /**
   * addrFacts() of f's source (end 0) or destination (end 1): its text is read only when the key
   * is not the address (a reused flow formats its destination when it is read).
   */
  private endFacts(p: CompiledPolicy, f: { src: string; dst: string }, end: number, key: number | string): number {
    return typeof key === 'number' ? facts4(p, key) : this.addrFacts(p, end === 0 ? f.src : f.dst, key);
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
    // the key is the address: no text parsed, nothing remembered (a table of answers cost a
    // cache miss per new peer under churn, more than the few trie steps it saved)
    if (typeof key === 'number') return facts4(p, key);
    let v = this.facts.get(key);
    if (v === undefined) {
      if (this.facts.size >= ADDR_FACTS_MAX) this.facts.clear();
      v = (p.isWatched(ip) ? WATCHED : 0) | (isGroupAddress(ip) ? GROUP : 0);
      this.facts.set(key, v);
    }
    return v;
  }

  /**
   * `device:NAME` rules: the named device's current addresses (from the inventory). NAME is an
   * entry's name: an entry that matches several devices ("plugs") names them all, though each
   * has its own name ("plugs-c30042").
   */
  /** The MUD URL host of the device at ip (lower case), "" when it announced none. */
  private readonly mudHostOf = (ip: string): string => {
    const url = this.inv.deviceByIp(ip)?.mudUrl;
    if (!url) return '';
    let host = this.mudHosts.get(url);
    if (host === undefined) {
      // parsed once per URL, not per flow; a device announces what it likes, so the cache is capped
      try { host = new URL(url).hostname.toLowerCase(); } catch { host = ''; }
      if (this.mudHosts.size >= 4096) this.mudHosts.clear();
      this.mudHosts.set(url, host);
    }
    return host;
  };

  private readonly mudHosts = new Map<string, string>();
  /** the device evalContext() was asked for last */
  private evalSelf = '';
  /**
   * The one evaluation context detectors get (evalContext()). selfMudHost is looked up only
   * when a same-manufacturer rule asks for it, not for every flow judged (an inventory look-up).
   */
  private readonly evalCtx: EvalContext = ((eng: DetectEngine): EvalContext => ({
    deviceIps: (name) => eng.deviceIps(name),
    mudHostOf: eng.mudHostOf,
    get selfMudHost() { return eng.mudHostOf(eng.evalSelf); },
  }))(this);

  private readonly deviceIps = (name: string): readonly string[] => {
    if (!this.deviceIpsCache) {
      const m = new Map<string, string[]>();
      const add = (key: string, ips: readonly string[]) => {
        const l = m.get(key);
        if (l) l.push(...ips); else m.set(key, [...ips]);
      };
      const p = this.opts.policy();
      for (const d of this.inv.devices()) {
        if (!d.name) continue;
        add(d.name, d.ips);
        if (!d.known) continue;
        const entry = p.place({ mac: d.mac, ip: d.ips[0] ?? '', vendor: d.vendor, hostname: d.hostname }).entry;
        if (entry && entry !== d.name) add(entry, d.ips);
      }
      this.deviceIpsCache = m;
    }
    return this.deviceIpsCache.get(name) ?? [];
  };

  private profileOf(p: CompiledPolicy, ip: string, mac: string, key?: number | string): string {
    const d = this.inv.deviceByIp(ip, key);
    if (d?.profile) return d.profile;
    return p.place({ mac: d?.mac || mac, ip, vendor: d?.vendor ?? '', hostname: d?.hostname ?? '' }).profile;
  }

  /** The device at ip as anomaly fields; watched devices get their profile. */
  private subject(p: CompiledPolicy, ip: string, mac: string, watched: boolean): Subject {
    const d = this.inv.deviceByIp(ip) ?? (mac ? this.inv.deviceByMac(mac) : undefined);
    if (d) return this.subjectOfDevice(p, d, ip, watched);
    // not in the inventory (it learns no device from a frame of another VLAN, or with learning
    // off): a watched end is named as the inventory would name it, by its MAC when the frame has one
    const place = watched ? p.place({ mac, ip, vendor: '', hostname: '' }) : undefined;
    return { device: place?.name || (watched && mac) || ip, mac, ip, segment: p.segmentOf(ip), profile: place?.profile ?? '' };
  }

  private subjectOfDevice(p: CompiledPolicy, d: Device, ip: string, watched = true): Subject {
    let name = d.name, profile = d.profile;
    if (watched && !profile) {
      const place = p.place({ mac: d.mac, ip, vendor: d.vendor, hostname: d.hostname });
      name = name || place.name;
      profile = profile || place.profile;
    }
    return {
      // never the hostname: it is a field, not a name (two devices may announce the same one)
      device: name || d.id || ip, mac: d.mac, ip,
      segment: d.segment || p.segmentOf(ip), profile: watched ? profile : '',
    };
  }
}
