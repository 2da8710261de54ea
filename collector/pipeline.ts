// Wires the stages: sources -> decode -> flows -> inventory and detect -> lifecycle -> sinks,
// in time order. Three entries: frames (a capture, live or from a file), flow records
// (NetFlow/IPFIX), and the events of a flow thread that reads a file and counts its flows
// (replay). The stages do the work; this module only connects them, keeps the collector's
// counters, and makes sure a fault in one stage costs one frame, not the run.

import { MudProfiles, type MudProfilesOptions } from './policy/mud-profiles.js';
import { decodeStampedFrame } from './decode/frame.js';
import { PacketInfo, L3, DECODE_ERROR_NAMES } from './decode/packet.js';
import { addrKey } from './inventory/addr-key.js';
import { isLocalIp, isLocalIp4 } from './inventory/addresses.js';
import { FlowTable, type FlowTableOptions, type FlowTableStats } from './flows/flow-table.js';
import { Inventory } from './inventory/inventory.js';
import type { Placement } from './inventory/types.js';
import type { CompiledPolicy } from './policy/types.js';
import { DetectEngine, type DetectEngineOptions } from './detect/engine.js';
import type { DetectorDef } from './detect/detector.js';
import type { DetectSettings } from './detect/settings.js';
import { AppLayer, type AppFlows } from './app-layer.js';
import { PacketFront, type FrontStages } from './packet-front.js';
import { DeviceTrafficStage } from './sinks/device-traffic.js';
import { HealthStage } from './sinks/health.js';
import { Fanout } from './sinks/fanout.js';
import type { Anomaly, AnomalyKind, Device, FlowRecord, FlowStart, Log, NetflowFigures, CaptureDrops, Sink } from './types.js';
import type { FrameStamp } from './sources/source.js';
import { silentLog } from './types.js';
import { TimeGuard } from './sources/time-guard.js';

/** What a flow thread's events go through (Pipeline.flowThreadEntry). */
export interface FlowThreadEntry {
  /** TCP ports whose payload a detector reads: the thread hands those segments over */
  payloadPorts: Uint8Array;
  start(ev: FlowStart): void;
  record(r: FlowRecord): void;
  /** record() keeps no record (no onFlow): the thread's side may hand over one object, filled in again */
  reuseRecord: boolean;
  /** a frame the app layer reads (appWants, ARP, LLDP), decoded again here: p.ts is the thread's guarded time */
  frame(p: PacketInfo, id: number): void;
  tick(now: number): void;
  ticked(now: number): void;
  figures(f: ThreadFigures): void;
}

/** A flow thread's counters and flow-table figures (PacketFront's), as of its last event. */
export interface ThreadFigures {
  packets: number; bytes: number; decodeErrors: number; nonIp: number; firstTs: number; lastTs: number;
  timeJumps: number; stageErrors: number;
  /** by DecodeError */
  errorCounts: Float64Array;
  flows: FlowTableStats;
}

/** An anomaly still open when an earlier run stopped. */
export interface RestoredAnomaly { a: Anomaly; first: number; last: number }

export interface PipelineOptions {
  /** the policy in force (re-read on every use so a hot reload takes effect); absent for flows/devices. */
  policy?: () => CompiledPolicy;
  sinks?: Sink[];
  /** every flow record (interim and final), e.g. for `segwatch flows`. */
  onFlow?: (r: FlowRecord) => void;
  /**
   * What the flows built from packets are for: `judge` (default), or `learn` when flow records
   * from a router arrive beside a capture (a router plus a mirror of DNS, DHCP and ARP): the
   * packets then teach names, bindings and payload findings, and flows are judged from the
   * records alone, so no conversation is judged twice, in two orders.
   */
  packetFlows?: 'judge' | 'learn';
  flows?: Partial<FlowTableOptions>;
  detect?: Partial<DetectSettings>;
  /** the detectors, in order; default: the registry (detect/registry.ts). */
  detectors?: readonly DetectorDef[];
  /** device ids reported as new before (kept across runs by the caller). */
  seenDevices?: Set<string>;
  /** findings held back (DetectEngineOptions.holdBack: devices in their learning period). */
  holdBack?: DetectEngineOptions['holdBack'];
  /**
   * What an earlier run left in the state database: its devices are known (no device.new,
   * same names) and its open anomalies go on under their ids.
   */
  restore?: { devices: readonly Device[]; anomalies: readonly RestoredAnomaly[] };
  /** device_traffic interval, ms (DESIGN.md: 60 s). */
  trafficIntervalMs?: number;
  /** collector health interval, ms (DESIGN.md: 10 s). */
  statsIntervalMs?: number;
  host?: string;
  source?: string;
  log?: Log;
  /**
   * Learn devices (ARP, DHCP, DNS, mDNS, neighbour discovery, traffic bindings). Default true;
   * `segwatch flows` turns it off: flow records need none of it.
   */
  inventory?: boolean;
  /**
   * Devices judged by their MUD file (`profile: mud`, `mud: { auto: true }`): where fetched files
   * are cached, which hosts may be fetched from, and (tests) the loader.
   */
  mud?: Omit<MudProfilesOptions, 'inventory' | 'log'>;
  /** figures of the source and sinks for the collector measurement. */
  extraStats?: () => { drops?: number; queue?: number; spoolBytes?: number; alertsFailing?: ReadonlyArray<{ channel: string; since: number }>; netflow?: NetflowFigures; capture?: CaptureDrops };
}

/** Counters a summary or the API reads; plain numbers, updated in place. */
export interface PipelineCounters {
  packets: number;
  bytes: number;
  /** flow records taken at the record entry (NetFlow/IPFIX). */
  records: number;
  decodeErrors: number;
  /** frames or records skipped, or ticks cut short, because a stage threw (a bug): counted and logged, never fatal. */
  stageErrors: number;
  /** points a sink threw on (the other sinks still got them). */
  sinkErrors: number;
  decodeErrorsByReason: Record<string, number>;
  nonIp: number;
  /** DHCP, DHCPv6 and LLDP messages with a malformed or truncated option (skipped, not thrown) */
  appMalformed: number;
  /** MUD URLs devices announced that were not a valid https URL (not stored) */
  mudUrlsRejected: number;
  /** MUD files judging devices now; loads that failed or files refused (each URL logged once) */
  mudProfilesLoaded: number;
  mudLoadFailures: number;
  flows: number;
  /** anomalies opened. */
  anomalies: number;
  anomaliesByKind: Partial<Record<AnomalyKind, number>>;
  firstTs: number;
  lastTs: number;
  /** timestamps clamped to the source's recent clock: far ahead, far behind, or invalid (TimeGuard). */
  timeJumps: number;
}

export class Pipeline {
  readonly counters: PipelineCounters = {
    packets: 0, bytes: 0, records: 0, decodeErrors: 0, stageErrors: 0, sinkErrors: 0, decodeErrorsByReason: {}, nonIp: 0, appMalformed: 0, mudUrlsRejected: 0, mudProfilesLoaded: 0, mudLoadFailures: 0, flows: 0,
    anomalies: 0, anomaliesByKind: {}, firstTs: 0, lastTs: 0, timeJumps: 0,
  };
  readonly inventory: Inventory;
  readonly flows: FlowTable;
  readonly detect: DetectEngine | null;
  /** devices judged by their MUD file; null without a policy */
  readonly mud: MudProfiles | null;

  private readonly pkt = new PacketInfo();
  /** The FrameStamp for a capture file read with handleStampedFrame. */
  readonly stamp: FrameStamp = this.pkt;
  private readonly errorCounts = new Float64Array(DECODE_ERROR_NAMES.length);
  private readonly out: Fanout;
  private app: AppLayer;
  private readonly front: PacketFront;
  private readonly stages: FrontStages;
  /** the options the flow table was made with (a flow thread makes its own with them) */
  readonly flowOptions: FlowTableOptions;
  /** stage errors a flow thread counted, as it last sent them */
  private threadStageErrors = 0;
  /** the flow table's figures as a flow thread last sent them; null while this thread counts flows */
  private threadStats: FlowTableStats | null = null;
  private readonly traffic: DeviceTrafficStage | null;
  private readonly health: HealthStage;
  private readonly log: Log;
  /** the source's clock, guarded against timestamps that jump (TimeGuard). */
  readonly time = new TimeGuard();
  private pendingDevices = new Map<string, Device>();
  /** the policy's VLAN (frames of other VLANs teach the inventory nothing), -1 for all; refreshed every tick. */
  private vlanOnly = -1;
  private readonly judgePackets: boolean;
  private readonly learn: boolean;
  /** the policy the inventory placed devices under: another one places them again */
  private placedUnder: CompiledPolicy | undefined;

  constructor(private readonly opts: PipelineOptions = {}) {
    this.log = opts.log ?? silentLog;
    this.out = new Fanout(opts.sinks ?? [], this.log);
    this.learn = opts.inventory ?? true;
    this.judgePackets = opts.packetFlows !== 'learn';
    const policy = opts.policy;

    this.inventory = new Inventory(
      {
        isLocal: policy ? (ip) => policy().segmentOf(ip) !== '' || isLocalIp(ip) : undefined,
        isLocal4: policy ? (v) => policy().segmentOf4(v) !== '' || isLocalIp4(v) : undefined,
        onLink: policy ? (ip, peer) => {
          const p = policy(), seg = p.segmentOf(ip);
          return seg !== '' && (p.isWatched(ip) || seg === p.segmentOf(peer));
        } : undefined,
        dnsGraceMs: opts.detect?.dnsGraceMs ?? policy?.().detectSettings().dnsGraceMs,
        place: policy ? (facts): Placement => {
          const p = policy();
          const placed = this.mud!.place(p, facts);
          return { name: placed.name, profile: placed.profile, known: placed.known, segment: p.segmentOf(facts.ip) };
        } : undefined,
      },
      {
        onDevice: (d, change) => {
          this.detect?.device(d, change);
          // A device's first packets often come before its DHCP name: the sinks get its state
          // once per tick, so a store keyed by name sees the settled name, not a MAC then a name.
          this.pendingDevices.set(d.id, d);
        },
        onConflict: (c) => this.detect?.conflict(c),
      },
    );

    this.mud = policy ? new MudProfiles({ ...opts.mud, inventory: this.inventory, log: this.log }) : null;
    this.detect = policy
      ? new DetectEngine({
          // MUD-judged devices' profiles evaluated by their MUD file
          policy: () => this.mud!.view(policy()),
          inventory: this.inventory,
          // the policy's `detectors:` section, under what the caller set explicitly (read at start)
          settings: mergeDetect(policy().detectSettings(), opts.detect),
          detectors: opts.detectors,
          seen: restoredSeen(opts),
          log: this.log,
          holdBack: opts.holdBack,
          wants: (event) => this.out.wants(event),
          emit: (event, a) => {
            if (event === 'opened') {
              this.counters.anomalies++;
              this.counters.anomaliesByKind[a.kind] = (this.counters.anomaliesByKind[a.kind] ?? 0) + 1;
            }
            this.out.anomaly(a, event);
          },
        })
      : null;

    if (opts.restore) {
      this.inventory.restore(opts.restore.devices);
      // written at "time 0": the first change after the restart goes out at the next tick
      for (const r of opts.restore.anomalies) this.detect?.lifecycle.resume(r.a, r.first, r.last, 0);
    }

    this.placedUnder = policy?.();

    const onStart = (ev: FlowStart) => this.flowStart(ev);
    // the stages keep no start and no record; a caller's onFlow may keep records
    this.flowOptions = { ...(opts.flows ?? {}), reuseStart: true, reuseRecord: opts.onFlow === undefined };
    this.flows = new FlowTable(
      // the stages read a flow's start during the call and copy what they keep (detector.ts)
      this.flowOptions,
      {
        ...(this.learn || this.detect ? { onStart } : {}),
        onRecord: (r) => this.flowRecord(r),
      },
    );
    this.app = new AppLayer(this.flows, this.learn ? this.inventory : null, this.detect);
    this.stages = {
      tick: (now) => this.tickBegin(now),
      ticked: (now) => this.tickEnd(now),
      arp: (p) => { if (this.learn && (this.vlanOnly < 0 || p.vlan === this.vlanOnly)) this.inventory.observeArp(p); },
      nonIp: (p) => this.app.nonIp(p, this.learn && (this.vlanOnly < 0 || p.vlan === this.vlanOnly)),
      flowPacket: (p, id) => this.app.packet(p, id, this.vlanOnly < 0 || p.vlan === this.vlanOnly),
    };
    this.front = new PacketFront(this.flows, this.time, this.counters, this.errorCounts, this.stages, (fn) => this.guard(fn));
    this.traffic = this.out.wantsTraffic
      ? new DeviceTrafficStage((ip) => this.inventory.deviceByIp(ip), (t) => this.out.deviceTraffic(t), opts.trafficIntervalMs ?? 60_000)
      : null;
    this.health = new HealthStage(opts.host ?? 'segwatch', opts.source ?? 'unknown', () => this.healthFigures(),
      (s) => {
        this.out.collector(s);
        this.detect?.health({ time: s.time, host: s.host, source: s.source, packets: s.packets, records: this.counters.records, drops: s.drops, spoolBytes: s.spoolBytes, alertsFailing: this.opts.extraStats?.().alertsFailing ?? [] });
      }, opts.statsIntervalMs ?? 10_000);
  }

  /** The FrameHandler a source calls: decode, count, and feed the stages. Hot path. */
  readonly handleFrame = (buf: Buffer, offset: number, caplen: number, wirelen: number, ts: number, linkType: number): void => {
    this.pkt.ts = ts;
    this.handleStampedFrame(buf, offset, caplen, wirelen, ts, linkType);
  };

  /** handleFrame for a capture file read with `stamp`: the frame's timestamp is already in it. */
  readonly handleStampedFrame = (buf: Buffer, offset: number, caplen: number, wirelen: number, _ts: number, linkType: number): void => {
    try {
      decodeStampedFrame(buf, offset, caplen, wirelen, linkType, this.pkt);
      this.front.packet(this.pkt);
    } catch (err) {
      this.stageError(err, 'frame skipped after a stage error');
    }
  };

  /** For a source that decodes frames itself (on another thread): the decoded packet, in file order. */
  readonly handlePacket = (p: PacketInfo): void => {
    try {
      this.front.packet(p);
    } catch (err) {
      this.stageError(err, 'frame skipped after a stage error');
    }
  };

  /**
   * The second entry: a flow record that did not come from packets here (a NetFlow/IPFIX
   * receiver). It runs the same inventory, policy and detectors as a flow from packets:
   * its first packet as a flow start, then the record itself.
   */
  readonly handleRecord = (rec: FlowRecord): void => {
    try {
      const c = this.counters;
      c.records++;
      // whoever can send a datagram sets these times: a record far from the recent clock is
      // moved to it (and counted), so it cannot move time for every stage after it
      const end = this.time.check(rec.end);
      let r = end === rec.end && rec.start <= end && end - rec.start <= this.time.maxSkewMs
        ? rec : { ...rec, end, start: rec.start <= end && end - rec.start <= this.time.maxSkewMs ? rec.start : end };
      if (c.firstTs === 0) c.firstTs = r.start;
      if (r.end > c.lastTs) c.lastTs = r.end;
      if (r.end >= this.front.nextTick) this.tick(r.end);
      // most exporters carry no VLAN id: a record without one is taken to be on the policy's
      // VLAN (the receiver's ifIndex list keeps the other interfaces out), else nothing
      // exported could be watched under a policy with `vlan:`
      if (r.vlan === 0 && this.vlanOnly > 0 && r.origin !== 'pcap') r = { ...r, vlan: this.vlanOnly };
      this.flowStart({
        id: r.id, time: r.start, proto: r.proto, src: r.src, sport: r.sport, dst: r.dst, dport: r.dport,
        srcMac: r.srcMac, dstMac: r.dstMac, vlan: r.vlan, tcpFlags: r.openerTcpFlags ?? r.tcpFlags, bytes: r.packets > 0 ? Math.round(r.bytes / r.packets) : 0,
        origin: r.origin, exporter: r.exporter,
        // a source that settled the opener says so (a biflow's forward side, the earlier of two
        // joined records); otherwise a SYN flag settles it for TCP
        sureInitiator: r.sureInitiator ?? (r.proto === 'tcp' ? (r.tcpFlags & 0x02) !== 0 : false),
      });
      if (r.serverName) this.detect?.flowName(r.id, r.serverName);
      this.flowRecord(r);
    } catch (err) {
      this.stageError(err, 'flow record skipped after a stage error');
    }
  };

  /**
   * The third entry, beside frames and flow records: the events of a flow thread that reads,
   * decodes and counts flows for this pipeline (sources/flow-thread.ts), in the order its
   * PacketFront made them. `flows` answers the app layer's questions about a flow as that
   * thread's table did when it handed the frame over. This thread's own flow table stays empty.
   */
  flowThreadEntry(flows: AppFlows): FlowThreadEntry {
    this.threadStats = { active: 0, created: 0, evicted: 0, expired: 0 };
    this.app = new AppLayer(flows, this.learn ? this.inventory : null, this.detect);
    const st = this.stages;
    return {
      payloadPorts: this.app.payloadPorts,
      start: (ev) => {
        try { this.flowStart(ev); } catch (err) { this.stageError(err, 'flow start skipped after a stage error'); }
      },
      record: (r) => {
        try { this.flowRecord(r); } catch (err) { this.stageError(err, 'flow record skipped after a stage error'); }
      },
      reuseRecord: this.flowOptions.reuseRecord === true,
      frame: (p, id) => {
        try {
          if (p.l3 === L3.ARP) st.arp(p);
          else if (p.l3 === L3.None) st.nonIp(p);
          else st.flowPacket(p, id);
        } catch (err) {
          this.stageError(err, 'frame skipped after a stage error');
        }
      },
      tick: (now) => st.tick(now),
      ticked: (now) => st.ticked(now),
      figures: (f) => {
        const c = this.counters;
        c.packets = f.packets; c.bytes = f.bytes; c.decodeErrors = f.decodeErrors; c.nonIp = f.nonIp;
        c.firstTs = f.firstTs; c.lastTs = f.lastTs; c.timeJumps = f.timeJumps; c.flows = f.flows.created;
        c.stageErrors += f.stageErrors - this.threadStageErrors;
        this.threadStageErrors = f.stageErrors;
        this.errorCounts.set(f.errorCounts);
        this.threadStats = f.flows;
      },
    };
  }

  private stageError(err: unknown, what: string): void {
    // A fault in a stage (a bug, or input no test foresaw) costs that frame, not the collector.
    this.counters.stageErrors++;
    if (this.counters.stageErrors <= 10 || this.counters.stageErrors % 10_000 === 0) {
      this.log.error({ err: (err as Error)?.stack ?? String(err), count: this.counters.stageErrors }, what);
    }
  }

  private flowStart(ev: FlowStart): void {
    // the stages key their state by address: the flow table hands the keys over, other
    // sources' texts are read once here
    const srcKey = ev.srcKey ?? addrKey(ev.src), dstKey = ev.dstKey ?? addrKey(ev.dst);
    if (this.learn && (this.vlanOnly < 0 || ev.vlan === this.vlanOnly)) this.inventory.observeFlowStart(ev, srcKey, dstKey);
    if (this.judgePackets || ev.origin !== 'pcap') this.detect?.flowStart(ev, srcKey, dstKey);
  }

  private flowRecord(r: FlowRecord): void {
    if (this.judgePackets || r.origin !== 'pcap') {
      this.traffic?.record(r);
      this.detect?.flowRecord(r);
    }
    this.opts.onFlow?.(r);
  }

  /**
   * Time-driven work, by packet time in replays; the live collector also calls it from a
   * wall-clock timer. Each stage costs in proportion to what it holds, not to the time that
   * passed; a stage that throws is counted and logged and the others still run.
   */
  tick(now: number): void {
    this.front.tick(now);
  }

  /** A tick's work before the flow table's expiry pass. */
  private tickBegin(_now: number): void {
    this.mudCounters();
    this.vlanOnly = this.opts.policy?.().vlan ?? -1;
    this.guard(() => this.emitDevices());
  }

  /** A tick's work after it. */
  private tickEnd(now: number): void {
    if (this.detect) this.guard(() => this.detect!.tick(now));
    const p = this.opts.policy?.();
    if (p !== this.placedUnder) {
      this.placedUnder = p;
      if (this.learn) this.guard(() => this.inventory.placeAgain());
    }
    if (this.traffic) this.guard(() => this.traffic!.tick(now));
    this.guard(() => this.health.tick(now));
    this.counters.sinkErrors = this.out.errors;
  }

  private mudCounters(): void {
    const c = this.counters;
    c.appMalformed = this.app.malformed;
    c.mudUrlsRejected = this.inventory.mudUrlsRejected;
    if (this.mud) {
      const m = this.mud.stats();
      c.mudProfilesLoaded = m.loaded;
      c.mudLoadFailures = m.loadFailures + m.compileFailures;
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stageError(err, 'a stage failed during the tick');
    }
  }

  private emitDevices(): void {
    if (this.pendingDevices.size === 0) return;
    for (const d of this.pendingDevices.values()) this.out.device(d);
    this.pendingDevices.clear();
  }

  /** The flow table's figures: this thread's, or a flow thread's as it last sent them. */
  flowStats(): FlowTableStats {
    return this.threadStats ?? this.flows.stats();
  }

  private healthFigures() {
    const fs = this.flowStats();
    const extra = this.opts.extraStats?.() ?? {};
    return {
      packets: this.counters.packets, bytes: this.counters.bytes, decodeErrors: this.counters.decodeErrors,
      flowsActive: fs.active, flowsEvicted: fs.evicted,
      drops: extra.drops ?? 0, queue: extra.queue ?? 0, spoolBytes: extra.spoolBytes ?? 0,
      ...(extra.netflow ? { netflow: extra.netflow } : {}),
      ...(extra.capture ? { capture: extra.capture } : {}),
    };
  }

  /** Decode errors by reason name, for summaries and the collector measurement. */
  decodeErrorsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < this.errorCounts.length; i++) if (this.errorCounts[i]) out[DECODE_ERROR_NAMES[i]] = this.errorCounts[i];
    this.counters.decodeErrorsByReason = out;
    return out;
  }

  /**
   * End of input (`close`: every flow ends and every open anomaly closes) or shutdown
   * (`close: false`: open anomalies are written as they are and stay open for the next
   * run). Writes the last points and flushes the sinks.
   */
  async finish(opts: { close?: boolean } = {}): Promise<void> {
    // a flow thread ended its flows itself, before its last figures
    if (this.threadStats === null) this.front.finish();
    this.mudCounters();
    if (this.detect) this.guard(() => this.detect!.flush(opts.close ?? true));
    this.guard(() => this.emitDevices());
    const end = this.counters.lastTs || Date.now();
    if (this.traffic) this.guard(() => this.traffic!.finish(end));
    this.guard(() => this.health.write(end));
    this.counters.sinkErrors = this.out.errors;
    this.decodeErrorsByReason();
    await this.out.flush();
  }

  async close(): Promise<void> {
    this.counters.sinkErrors = this.out.errors;
    await this.out.close();
  }
}

function mergeDetect(fromPolicy: Partial<DetectSettings>, explicit: Partial<DetectSettings> = {}): Partial<DetectSettings> {
  return { ...fromPolicy, ...explicit, severity: { ...fromPolicy.severity, ...explicit.severity } as DetectSettings['severity'] };
}

/** Device ids device.new must not report: those seen before, in this run's caller or in the state. */
function restoredSeen(opts: PipelineOptions): Set<string> | undefined {
  if (!opts.restore) return opts.seenDevices;
  const seen = opts.seenDevices ?? new Set<string>();
  for (const d of opts.restore.devices) seen.add(d.id);
  return seen;
}
