// The composition root: the only module that imports every stage. Frames go
// sources -> decode -> flows -> inventory -> detect -> sinks, in packet-time order.

import { decodeStampedFrame } from './decode/frame.js';
import { PacketInfo, L3, DECODE_ERROR_NAMES, DecodeError } from './decode/packet.js';
import { decodeDns } from './decode/dns.js';
import { DnsAnswers } from './decode/dns-answers.js';
import { packetIpWords } from './inventory/ip-words.js';
import { addrKey } from './inventory/addr-key.js';
import { decodeDhcp } from './decode/dhcp.js';
import { tlsSni } from './decode/tls.js';
import { httpHost, httpBasicAuth } from './decode/http.js';
import { decodeNdp, NdpInfo } from './decode/ndp.js';
import { FlowTable, type FlowTableOptions } from './flows/flow-table.js';
import { Inventory } from './inventory/inventory.js';
import type { Placement } from './inventory/types.js';
import type { CompiledPolicy } from './policy/types.js';
import { DetectEngine } from './detect/engine.js';
import type { DetectSettings } from './detect/settings.js';
import { ip4String, ip6String } from './decode/addr.js';
import type { Anomaly, AnomalyKind, CollectorStats, Device, DeviceTraffic, FlowRecord, FlowStart, Log, Sink } from './types.js';
import type { FrameStamp } from './sources/source.js';
import { silentLog, macString, deviceLabel } from './types.js';
import { TimeGuard } from './sources/time-guard.js';

export interface PipelineOptions {
  /** the policy in force (re-read on every use so a hot reload takes effect); absent for flows/devices. */
  policy?: () => CompiledPolicy;
  sinks?: Sink[];
  /** every flow record (interim and final), e.g. for `segwatch flows`. */
  onFlow?: (r: FlowRecord) => void;
  /** every anomaly after suppression, before the sinks (e.g. alert fan-out, summaries). */
  onAnomaly?: (a: Anomaly) => void;
  flows?: Partial<FlowTableOptions>;
  detect?: Partial<DetectSettings>;
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
  /** extra figures for the collector measurement (source drops, sink queue and spool). */
  extraStats?: () => { drops?: number; queue?: number; spoolBytes?: number };
}

/** Counters a summary or the API reads; plain numbers, updated in place. */
export interface PipelineCounters {
  packets: number;
  bytes: number;
  decodeErrors: number;
  /** frames skipped because a stage threw (a bug): counted and logged, never fatal. */
  stageErrors: number;
  /** points a sink threw on (the other sinks still got them). */
  sinkErrors: number;
  decodeErrorsByReason: Record<string, number>;
  nonIp: number;
  flows: number;
  anomalies: number;
  anomaliesByKind: Partial<Record<AnomalyKind, number>>;
  firstTs: number;
  lastTs: number;
  /** packet timestamps clamped to the recent clock: far ahead, far behind, or invalid (issue 9, TimeGuard). */
  timeJumps: number;
}

/** How many initiator payload packets of a TCP flow are searched for a TLS SNI or HTTP Host. */
const NAME_SEARCH_PACKETS = 3;

interface TrafficAcc {
  device: string;
  segment: string;
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  flows: number;
  peers: Set<string>;
}

export class Pipeline {
  readonly counters: PipelineCounters = {
    packets: 0, bytes: 0, decodeErrors: 0, stageErrors: 0, sinkErrors: 0, decodeErrorsByReason: {}, nonIp: 0, flows: 0,
    anomalies: 0, anomaliesByKind: {}, firstTs: 0, lastTs: 0, timeJumps: 0,
  };
  readonly inventory: Inventory;
  readonly flows: FlowTable;
  readonly detect: DetectEngine | null;

  private readonly pkt = new PacketInfo();
  /** The FrameStamp for a capture file read with handleStampedFrame. */
  readonly stamp: FrameStamp = this.pkt;
  private readonly ndp = new NdpInfo();
  private readonly dnsAnswers = new DnsAnswers();
  private readonly dnsClient = new Uint32Array(4);
  private readonly errorCounts = new Float64Array(DECODE_ERROR_NAMES.length);
  private readonly sinks: Sink[];
  private readonly log: Log;
  /** live TCP flows' first-packet facts, for signals that arrive later in the flow. */
  private nextTick = 0;
  /** Issue 9: the packet-time clock, guarded against timestamps that jump (see TimeGuard). */
  readonly time = new TimeGuard();
  private trafficEnd = 0;
  private statsDue = 0;
  private traffic = new Map<string, TrafficAcc>();
  private pendingDevices = new Map<string, Device>();
  /** the policy's VLAN (frames of other VLANs teach the inventory nothing), -1 for all; refreshed every tick. */
  private vlanOnly = -1;
  private readonly trafficIntervalMs: number;
  private readonly statsIntervalMs: number;
  private readonly learn: boolean;
  private readonly wantTraffic: boolean;

  constructor(private readonly opts: PipelineOptions = {}) {
    this.log = opts.log ?? silentLog;
    this.sinks = opts.sinks ?? [];
    this.trafficIntervalMs = opts.trafficIntervalMs ?? 60_000;
    this.statsIntervalMs = opts.statsIntervalMs ?? 10_000;
    this.learn = opts.inventory ?? true;
    this.wantTraffic = this.sinks.some((s) => s.deviceTraffic !== undefined);
    const policy = opts.policy;

    this.inventory = new Inventory(
      {
        isLocal: policy ? (ip) => policy().segmentOf(ip) !== '' || defaultLocal(ip) : undefined,
        dnsGraceMs: opts.detect?.dnsGraceMs ?? policy?.().detectSettings().dnsGraceMs,
        place: policy ? (facts): Placement => {
          const p = policy();
          const placed = p.place(facts);
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

    this.detect = policy
      ? new DetectEngine({
          policy,
          inventory: this.inventory,
          // the policy's `detectors:` section, under what the caller set explicitly (read at start)
          settings: mergeDetect(policy().detectSettings(), opts.detect),
          emit: (a) => this.emitAnomaly(a),
        })
      : null;

    const onStart = (ev: FlowStart) => {
      // the stages key their state by address: the texts are read once here
      const srcKey = addrKey(ev.src), dstKey = addrKey(ev.dst);
      if (this.learn && (this.vlanOnly < 0 || ev.vlan === this.vlanOnly)) this.inventory.observeFlowStart(ev, srcKey);
      this.detect?.flowStart(ev, srcKey, dstKey);
    };
    this.flows = new FlowTable(
      { ...(opts.flows ?? {}) },
      {
        ...(this.learn || this.detect ? { onStart } : {}),
        onRecord: (r) => {
          if (this.wantTraffic) this.accountTraffic(r);
          this.detect?.flowRecord(r);
          this.opts.onFlow?.(r);
        },
      },
    );
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
      this.packet(this.pkt);
    } catch (err) {
      this.stageError(err);
    }
  };

  /** For a source that decodes frames itself (on another thread): the decoded packet, in file order. */
  readonly handlePacket = (p: PacketInfo): void => {
    try {
      this.packet(p);
    } catch (err) {
      this.stageError(err);
    }
  };

  private stageError(err: unknown): void {
    // A fault in a stage (a bug, or input no test foresaw) costs that frame, not the collector.
    this.counters.stageErrors++;
    if (this.counters.stageErrors <= 10 || this.counters.stageErrors % 10_000 === 0) {
      this.log.error({ err: (err as Error).stack ?? String(err), count: this.counters.stageErrors }, 'frame skipped after a stage error');
    }
  }

  private packet(p: PacketInfo): void {
    const c = this.counters;
    // Issue 9: a timestamp far from the source's recent clock is clamped to it (and counted)
    // before any stage reads p.ts, so one corrupt record cannot move packet time for good.
    const ts = p.ts = this.time.check(p.ts);
    c.timeJumps = this.time.clamped;
    c.packets++;
    c.bytes += p.wirelen;
    if (c.firstTs === 0) c.firstTs = ts;
    if (ts > c.lastTs) c.lastTs = ts;
    if (ts >= this.nextTick) this.tick(ts);

    if (p.error !== DecodeError.None) {
      c.decodeErrors++;
      this.errorCounts[p.error]++;
    }
    if (p.l3 === L3.ARP) {
      if (p.error === DecodeError.None && this.learn && (this.vlanOnly < 0 || p.vlan === this.vlanOnly)) this.inventory.observeArp(p);
      return;
    }
    if (p.l3 === L3.None) {
      if (p.error === DecodeError.None) c.nonIp++;
      return;
    }
    const id = this.flows.add(p);
    if (id < 0 || !p.hasL4) return;
    if (this.vlanOnly >= 0 && p.vlan !== this.vlanOnly) {
      // Not the watched VLAN: counted as flows, but no names or bindings from it.
      if (p.proto === 6 && p.payloadLength > 0 && this.flows.lastDir === 0 && this.flows.lastIndex <= NAME_SEARCH_PACKETS + 2) this.onTcpPayload(id, p);
      return;
    }

    if (p.proto === 17) {
      if (!this.learn) return;
      const sp = p.sport, dp = p.dport;
      if (sp === 53 || dp === 53 || sp === 5353 || dp === 5353) this.onDns(p, sp, dp);
      else if (sp === 67 || dp === 67 || sp === 68 || dp === 68) {
        const m = decodeDhcp(p.buf, p.payloadOffset, p.payloadLength);
        if (m) this.inventory.observeDhcp(m, ts);
      }
    } else if (p.proto === 6) {
      if (p.payloadLength > 0 && this.flows.lastDir === 0 && this.flows.lastIndex <= NAME_SEARCH_PACKETS + 2) {
        this.onTcpPayload(id, p);
      }
    } else if (p.proto === 58 && this.learn) {
      if (p.icmpType >= 133 && p.icmpType <= 137 && decodeNdp(p.buf, p.payloadOffset, p.payloadLength, p.icmpType, this.ndp)) {
        this.inventory.observeNdp(p, this.ndp);
      }
    }
  }

  private onDns(p: PacketInfo, sp: number, dp: number): void {
    if (sp === 5353 || dp === 5353) {
      const msg = decodeDns(p.buf, p.payloadOffset, p.payloadLength);
      if (msg) this.inventory.observeMdns(ipText(p, true), macString(p.srcMac), msg, p.ts);
      return;
    }
    // A response is what the client (its destination) learned: names for addresses. Read
    // without a message object: queries and the other sections teach nothing here.
    if (!this.dnsAnswers.read(p.buf, p.payloadOffset, p.payloadLength)) return;
    this.inventory.observeDnsAnswers(packetIpWords(p, false, this.dnsClient, 0), this.dnsClient, this.dnsAnswers, p.ts);
  }

  private onTcpPayload(id: number, p: PacketInfo): void {
    const b = p.buf, off = p.payloadOffset, len = p.payloadLength;
    if (b[off] === 0x16) {
      const sni = tlsSni(b, off, len);
      if (sni) this.nameFlow(id, sni, 'sni');
      return;
    }
    const host = httpHost(b, off, len);
    if (host) this.nameFlow(id, host, 'http');
    if (host !== null && httpBasicAuth(b, off, len)) {
      // the flow's facts from the table: this payload's packet was just counted in it
      const start = this.flows.startOf(id);
      if (start) this.detect?.plaintextSignal(start, 'http-basic-auth');
    }
  }

  private nameFlow(id: number, name: string, source: 'sni' | 'http'): void {
    this.flows.setName(id, name);
    this.detect?.flowName(id, name, source);
  }

  /** Time-driven work, by packet time in replays; the live collector also calls it from a wall-clock timer. */
  tick(now: number): void {
    this.nextTick = now + 1000;
    this.time.advanceTo(now); // issue 9: a live timer's wall clock moves packet time too (idle is no jump)
    this.counters.flows = this.flows.stats().created;
    this.vlanOnly = this.opts.policy?.().vlan ?? -1;
    this.emitDevices();
    this.flows.advance(now);
    this.detect?.tick(now);
    if (this.trafficEnd === 0) this.trafficEnd = alignUp(now, this.trafficIntervalMs);
    if (now >= this.trafficEnd) {
      // Issue 9: the interval that ended gets what accumulated; the empty ones after it are
      // skipped in one step (they wrote nothing), so the cost follows the data, not the time.
      this.emitTraffic(this.trafficEnd);
      this.trafficEnd = alignUp(now, this.trafficIntervalMs);
    }
    if (this.statsDue === 0) this.statsDue = alignUp(now, this.statsIntervalMs);
    if (now >= this.statsDue) {
      this.emitStats(this.statsDue);
      this.statsDue = alignUp(now + 1, this.statsIntervalMs);
    }
  }

  private emitDevices(): void {
    if (this.pendingDevices.size === 0) return;
    for (const d of this.pendingDevices.values()) this.toSinks((s) => s.device?.(d));
    this.pendingDevices.clear();
  }

  private accountTraffic(r: FlowRecord): void {
    const side = (ip: string, out: boolean) => {
      const d = this.inventory.deviceByIp(ip);
      if (!d) return;
      const key = d.id;
      let acc = this.traffic.get(key);
      if (!acc) {
        acc = { device: deviceLabel(d), segment: d.segment, bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, flows: 0, peers: new Set() };
        this.traffic.set(key, acc);
      }
      acc.flows++;
      if (out) {
        acc.bytesOut += r.bytes; acc.packetsOut += r.packets; acc.bytesIn += r.bytesRev; acc.packetsIn += r.packetsRev;
        acc.peers.add(r.dst);
      } else {
        acc.bytesOut += r.bytesRev; acc.packetsOut += r.packetsRev; acc.bytesIn += r.bytes; acc.packetsIn += r.packets;
        acc.peers.add(r.src);
      }
    };
    side(r.src, true);
    side(r.dst, false);
  }

  private emitTraffic(end: number): void {
    if (this.traffic.size === 0) return;
    for (const acc of this.traffic.values()) {
      const t: DeviceTraffic = {
        time: end, device: acc.device, segment: acc.segment, bytesOut: acc.bytesOut, bytesIn: acc.bytesIn,
        packetsOut: acc.packetsOut, packetsIn: acc.packetsIn, flows: acc.flows, peers: acc.peers.size,
      };
      this.toSinks((s) => s.deviceTraffic?.(t));
    }
    this.traffic = new Map();
  }

  private emitStats(time: number): void {
    const fs = this.flows.stats();
    const extra = this.opts.extraStats?.() ?? {};
    const s: CollectorStats = {
      time,
      host: this.opts.host ?? 'segwatch',
      source: this.opts.source ?? 'unknown',
      packets: this.counters.packets,
      bytes: this.counters.bytes,
      drops: extra.drops ?? 0,
      decodeErrors: this.counters.decodeErrors,
      flowsActive: fs.active,
      flowsEvicted: fs.evicted,
      queue: extra.queue ?? 0,
      spoolBytes: extra.spoolBytes ?? 0,
    };
    this.toSinks((sink) => sink.collector?.(s));
  }

  /**
   * Hands a point to every sink. A sink that throws (they should not) is counted and logged:
   * the other sinks still get the point and the pipeline goes on.
   */
  private toSinks(push: (s: Sink) => void): void {
    for (const s of this.sinks) {
      try {
        push(s);
      } catch (err) {
        this.counters.sinkErrors++;
        if (this.counters.sinkErrors <= 10 || this.counters.sinkErrors % 10_000 === 0) {
          this.log.error({ sink: s.name, err: (err as Error).message, count: this.counters.sinkErrors }, 'a sink refused a point');
        }
      }
    }
  }

  private emitAnomaly(a: Anomaly): void {
    this.counters.anomalies++;
    this.counters.anomaliesByKind[a.kind] = (this.counters.anomaliesByKind[a.kind] ?? 0) + 1;
    this.opts.onAnomaly?.(a);
    this.toSinks((s) => s.anomaly?.(a));
  }

  /** Decode errors by reason name, for summaries and the collector measurement. */
  decodeErrorsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < this.errorCounts.length; i++) if (this.errorCounts[i]) out[DECODE_ERROR_NAMES[i]] = this.errorCounts[i];
    this.counters.decodeErrorsByReason = out;
    return out;
  }

  /** End of input (or shutdown): close every flow, judge what is still pending, write the last points, flush sinks. */
  async finish(): Promise<void> {
    this.counters.flows = this.flows.stats().created;
    this.flows.flush();
    this.detect?.flush();
    this.emitDevices();
    const end = this.counters.lastTs || Date.now();
    this.emitTraffic(this.trafficEnd || alignUp(end, this.trafficIntervalMs));
    this.emitStats(end);
    this.decodeErrorsByReason();
    for (const s of this.sinks) await s.flush();
  }

  async close(): Promise<void> {
    for (const s of this.sinks) await s.close();
  }
}

function mergeDetect(fromPolicy: Partial<DetectSettings>, explicit: Partial<DetectSettings> = {}): Partial<DetectSettings> {
  return { ...fromPolicy, ...explicit, severity: { ...fromPolicy.severity, ...explicit.severity } as DetectSettings['severity'] };
}

/** RFC 1918, CGNAT, link-local and ULA: addresses that belong to devices on a local segment. */
export function defaultLocal(ip: string): boolean {
  if (ip.includes(':')) {
    const first = parseInt(ip.split(':')[0] || '0', 16);
    return (first & 0xffc0) === 0xfe80 || (first & 0xfe00) === 0xfc00;
  }
  const [a, b] = ip.split('.').map(Number);
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
}

function ipText(p: PacketInfo, src: boolean): string {
  if (p.l3 === L3.IPv4) return ip4String(src ? p.src4 : p.dst4);
  return ip6String(p.buf, src ? p.srcOff : p.dstOff);
}

function alignUp(t: number, step: number): number {
  return Math.floor(t / step) * step + step;
}


